import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { PERSONAL_TOKEN_PATTERN } from '@palisade/contracts'
import { ARTIFACTS, CHROMIUM, launchChromium, startStack } from './helpers/stack.js'

/**
 * Personal access tokens on the account page, end to end through the local edge: creating one asks
 * for the password on a stale session (step-up), shows the token once, lists it by its last four
 * characters, the token works for a script, and revoking it from the page stops it.
 */

if (!existsSync(CHROMIUM)) {
  t.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`)
  process.exit(0)
}

t.setTimeout(300_000)
const stack = await startStack()
const browser = await launchChromium()
const db = new pg.Client({ connectionString: stack.databaseUrl })
await db.connect()
t.teardown(async () => {
  await db.end().catch(() => {})
  await browser.close().catch(() => {})
  await stack.stop()
})
const password = 'a long enough password for e2e'

t.test('create with step-up, shown once, used by a script, revoked from the page', async (t) => {
  const context = await browser.newContext({ baseURL: stack.origin, viewport: { width: 1200, height: 900 } })
  const page = await context.newPage()
  await page.goto('/login#register')
  await page.getByLabel('Display name').fill('Tess')
  await page.getByLabel('Email').fill(`tess-${Date.now().toString(36)}@test.palisade.example`)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.waitForURL((u) => u.pathname === '/')
  await page.getByRole('button', { name: 'Account' }).click()
  await page.locator('#tokens-title').waitFor()

  await db.query("UPDATE auth.sessions SET authenticated_at = now() - interval '10 minutes'")
  await page.getByLabel('Token name').fill('nightly export')
  await page.getByLabel('send and change messages').check()
  await page.getByRole('button', { name: 'Create token' }).click()
  const dialog = page.getByRole('dialog', { name: 'Confirm it’s you' })
  await dialog.waitFor()
  await dialog.getByLabel('Password').fill(password)
  await dialog.getByRole('button', { name: 'Confirm' }).click()
  const field = page.getByLabel('New token')
  await field.waitFor()
  const token = await field.inputValue()
  t.match(token, PERSONAL_TOKEN_PATTERN, 'the token is shown after step-up')
  await page.screenshot({ path: join(ARTIFACTS, 'tokens-01-created.png'), fullPage: true })
  const item = page.locator('#token-list li')
  t.match(await item.textContent(), new RegExp(`nightly export · …${token.slice(-4).replace(/[-_]/g, '\\$&')} · read, write`))
  t.notOk((await page.locator('#token-list').textContent())!.includes(token), 'the list never shows the token')

  const script = (tok: string) => fetch(`${stack.origin}/api/chat/conversations`, { headers: { authorization: `Bearer ${tok}` } })
  t.equal((await script(token)).status, 200, 'a script uses it through the edge')

  await page.getByRole('button', { name: 'Revoke token nightly export' }).click()
  await page.locator('#tokens-status').getByText('Token “nightly export” revoked.').waitFor()
  t.equal(await page.locator('#token-list li').count(), 0)
  t.equal((await script(token)).status, 401, 'revoked from the page: refused')
  await context.close()
})

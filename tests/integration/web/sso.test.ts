import t from 'tap'
import http from 'node:http'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import pg from 'pg'
import type { Browser, Page } from 'playwright-core'
import { CLIENT_ID, CLIENT_SECRET, frontchannelUrl, startTestProvider, TEST_PROVIDER_ID } from '@palisade/testkit/oidc-provider'
import { ARTIFACTS, CHROMIUM, launchChromium, startStack, type Stack } from './helpers/stack.js'

/**
 * Single sign-on in Chromium, through the local edge, against a real OpenID provider (oidc-provider
 * with a sign-in form and a consent page): the login page's provider button, the provider's login
 * and consent, landing signed in; a failed callback's message on the login page; the provider's
 * logout pages, back-channel and front-channel (framed by the provider, refused in a foreign frame).
 */

if (!existsSync(CHROMIUM)) {
  t.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`)
  process.exit(0)
}

t.setTimeout(300_000)
const provider = await startTestProvider(t, { interactive: true })
const stack: Stack = await startStack({
  AUTH_OIDC_PROVIDERS: JSON.stringify([{ id: TEST_PROVIDER_ID, name: 'Test IdP', issuer: provider.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }])
})
// Redirects come back to the edge; logout tokens go to it too (the public back-channel route).
provider.webOrigin = stack.origin
provider.logoutTarget = stack.origin
const browser: Browser = await launchChromium()
const db = new pg.Client({ connectionString: stack.databaseUrl })
await db.connect()
t.teardown(async () => {
  await db.end().catch(() => {})
  await browser.close().catch(() => {})
  await stack.stop()
})
const stamp = Date.now().toString(36)
const log: string[] = []
t.afterEach((t) => {
  if (!t.passing() && log.length) t.comment(log.join('\n'))
  log.length = 0
})

async function newPage(label: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: stack.origin, viewport: { width: 1200, height: 900 } })
  const page = await context.newPage()
  page.on('response', (r) => {
    if (r.status() >= 400) log.push(`${label}: ${r.request().method()} ${r.url()} → ${r.status()}`)
  })
  page.on('pageerror', (e) => log.push(`${label} uncaught: ${e.message}`))
  return page
}

/** From the login page through the provider's sign-in form and consent page. */
async function viaProvider(page: Page, username: string): Promise<void> {
  await page.goto('/login')
  await page.getByRole('link', { name: 'Sign in with Test IdP' }).click()
  await page.getByRole('heading', { name: 'Sign in to Test IdP' }).waitFor()
  t.equal(new URL(page.url()).origin, provider.issuer, 'the browser is at the provider')
  await page.getByLabel('User name').fill(username)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Allow access' }).waitFor()
  await page.getByRole('button', { name: 'Allow' }).click()
}

const liveSessions = async (email: string) =>
  (
    await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id WHERE u.email = $1 AND s.revoked_at IS NULL',
      [email]
    )
  ).rows[0]!.n

t.test('the provider button signs a new person in, through login and consent', async (t) => {
  // The installation's first account (its admin) already exists: the provider's people are members.
  const admin = await newPage('admin')
  await admin.goto('/login#register')
  await admin.getByLabel('Display name').fill('Root')
  await admin.getByLabel('Email').fill(`root-${stamp}@test.palisade.example`)
  await admin.getByLabel('Password').fill('a long enough password for e2e')
  await admin.getByRole('button', { name: 'Create account' }).click()
  await admin.waitForURL((u) => u.pathname === '/')
  await admin.context().close()

  const email = `nora-${stamp}@idp.example`
  provider.people.set('nora', { sub: `nora-${stamp}`, email, emailVerified: true })
  const page = await newPage('nora')
  await viaProvider(page, 'nora')
  await page.waitForURL((u) => u.origin === stack.origin && u.pathname === '/')
  await page.getByRole('button', { name: 'Account' }).waitFor()
  t.equal(await liveSessions(email), 1, 'one session for the new account')
  const who = await page.evaluate(async () => (await fetch('/auth/me')).json())
  t.match(who, { email, roles: ['member'] }, 'signed in as the provider’s person')
  await page.screenshot({ path: join(ARTIFACTS, 'sso-signed-in.png') })

  // The provider's own logout page: its back-channel logout ends the session; the open tab, on
  // its next request, is sent back to the login page.
  const before = provider.logouts.length
  await page.goto(`${provider.issuer}/session/end`)
  await page.getByRole('button', { name: 'Yes, sign me out' }).click()
  await page.waitForLoadState()
  t.same(provider.logouts.slice(before), [{ ok: true }], 'the provider’s logout token reached auth through the edge')
  t.equal(await liveSessions(email), 0, 'the session ended')
  await page.goto('/')
  await page.waitForURL(/\/login/)
  await page.context().close()
})

t.test('a failed callback shows its message on the login page', async (t) => {
  provider.people.set('olaf', { sub: `olaf-${stamp}`, email: `olaf-${stamp}@idp.example`, emailVerified: false })
  const page = await newPage('olaf')
  await viaProvider(page, 'olaf')
  await page.waitForURL((u) => u.origin === stack.origin && u.pathname === '/login')
  const alert = page.getByRole('alert').filter({ hasText: /cannot be used here/ })
  await alert.waitFor()
  t.match(await alert.textContent(), /email address is not verified/)
  t.equal(new URL(page.url()).search, '', 'the code left the address bar')
  t.equal(await page.evaluate(async () => (await fetch('/auth/me')).status), 401, 'not signed in')
  await page.screenshot({ path: join(ARTIFACTS, 'sso-callback-error.png') })

  // Only the fixed list of codes has a message; anything else in the URL is not shown.
  await page.goto(`/login?error=${encodeURIComponent('<b>Your account is locked, call +1 555</b>')}`)
  await page.locator('#auth-form').waitFor()
  t.equal(await page.locator('#auth-error').textContent(), '')
  await page.context().close()
})

t.test('a signed-in person links the provider from the account page', async (t) => {
  const page = await newPage('quinn')
  await page.goto('/login#register')
  await page.getByLabel('Display name').fill('Quinn')
  await page.getByLabel('Email').fill(`quinn-${stamp}@test.palisade.example`)
  await page.getByLabel('Password').fill('a long enough password for e2e')
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.waitForURL((u) => u.pathname === '/')
  await page.getByRole('button', { name: 'Account' }).click()
  provider.people.set('quinn', { sub: `quinn-${stamp}`, email: `quinn-${stamp}@idp.example`, emailVerified: true })
  await page.getByRole('button', { name: 'Link Test IdP' }).click()
  await page.getByLabel('User name').fill('quinn')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('button', { name: 'Allow' }).click()
  await page.locator('#identities-status').filter({ hasText: 'Linked.' }).waitFor()
  t.equal(new URL(page.url()).search, '', 'the outcome left the address bar')
  t.ok(await page.getByText(`Test IdP · quinn-${stamp}@idp.example`).isVisible(), 'the linked identity is listed')
  await page.context().close()
})

t.test('front-channel logout: framed by the provider it ends the session; a foreign page cannot frame it', async (t) => {
  const email = `pia-${stamp}@idp.example`
  provider.people.set('pia', { sub: `pia-${stamp}`, email, emailVerified: true })
  const page = await newPage('pia')
  await viaProvider(page, 'pia')
  await page.waitForURL((u) => u.origin === stack.origin && u.pathname === '/')
  const sid = (await db.query<{ sid: string }>('SELECT o.sid FROM auth.oidc_sessions o JOIN auth.users u ON u.id = o.user_id WHERE u.email = $1', [email]))
    .rows[0]!.sid
  t.ok(sid)

  // A page of another origin framing the endpoint: the browser refuses to show it (frame-ancestors).
  const foreign = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(`<!doctype html><title>elsewhere</title><iframe title="Palisade" src="${frontchannelUrl(provider, 'no-such-sid')}"></iframe>`)
  })
  await new Promise<void>((r) => foreign.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => foreign.close(() => r())))
  const attacker = await page.context().newPage()
  const blocked = attacker.waitForEvent('console', (m) => /frame-ancestors/.test(m.text()))
  await attacker.goto(`http://127.0.0.1:${(foreign.address() as AddressInfo).port}/`)
  t.match(
    (await blocked).text(),
    /violates the following Content Security Policy directive: "frame-ancestors http:\/\/127\.0\.0\.1:\d+"/,
    'Chromium refused to frame it'
  )
  t.notMatch(await attacker.frames()[1]?.locator('body').textContent(), /Signed out/, 'nothing of it is shown')
  await attacker.close()

  // The provider's logout page, which frames the endpoint with its iss and the session's sid.
  const frame = await page.context().newPage()
  await frame.goto(`${provider.issuer}/test/frontchannel?sid=${encodeURIComponent(sid)}`)
  await frame.frameLocator('iframe').getByText('Signed out of Palisade.').waitFor()
  t.equal(await liveSessions(email), 0, 'the session ended')
  await page.goto('/')
  await page.waitForURL(/\/login/)
  await page.context().close()
})

import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { generate } from 'otplib'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { ARTIFACTS, CHROMIUM, launchChromium, startStack, type Stack } from './helpers/stack.js'

/**
 * Second factors in the browser, end to end through the local edge: TOTP enrolment from the QR
 * page's key and sign-in with a computed code, recovery-code sign-in, passkeys with Chromium's
 * virtual authenticator (DevTools protocol `WebAuthn` domain), and the step-up dialog.
 */

if (!existsSync(CHROMIUM)) {
  t.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`)
  process.exit(0)
}

t.setTimeout(300_000)
const stack: Stack = await startStack()
const browser: Browser = await launchChromium()
const db = new pg.Client({ connectionString: stack.databaseUrl })
await db.connect()
t.teardown(async () => {
  await db.end().catch(() => {})
  await browser.close().catch(() => {})
  await stack.stop()
})
const password = 'a long enough password for e2e'
const stamp = Date.now().toString(36)
const log: string[] = []
t.afterEach((t) => {
  if (!t.passing() && log.length) t.comment(log.join('\n'))
  log.length = 0
})

async function person(label: string): Promise<{ context: BrowserContext; page: Page; email: string }> {
  const context = await browser.newContext({ baseURL: stack.origin, viewport: { width: 1200, height: 900 } })
  const page = await context.newPage()
  page.on('response', (r) => {
    if (r.status() >= 400) log.push(`${label}: ${r.request().method()} ${new URL(r.url()).pathname} → ${r.status()}`)
  })
  page.on('console', (m) => {
    if (m.type() === 'error') log.push(`${label} console: ${m.text()}`)
  })
  return { context, page, email: `${label}-${stamp}@test.palisade.example` }
}

async function register(page: Page, email: string, name: string): Promise<void> {
  await page.goto('/login#register')
  await page.getByLabel('Display name').fill(name)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.waitForURL((u) => u.pathname === '/')
}

async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out', exact: true }).click()
  await page.waitForURL(/\/login/)
}

async function passwordStep(page: Page, email: string): Promise<void> {
  await page.goto('/login')
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
}

async function openAccount(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Account' }).click()
  await page.locator('#security-title').waitFor()
}

/** A code `steps` time steps from now, never within the last seconds of a step (the server must see the same step). */
async function code(secret: string, steps = 0): Promise<string> {
  const into = (Date.now() / 1000) % 30
  if (into > 22) await new Promise((r) => setTimeout(r, (30 - into) * 1000 + 200))
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + steps * 30 })
}

const shot = (p: Page, name: string) => p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })

const carol = await person('carol')
const dave = await person('dave')
let recoveryCodes: string[] = []

await t.test('TOTP: enrol from the QR page, then sign in with a computed code', async (t) => {
  const { page, email } = carol
  await register(page, email, 'Carol')
  await openAccount(page)
  await page.getByRole('button', { name: 'Set up authenticator app' }).click()
  const qr = page.getByRole('img', { name: 'QR code for your authenticator app' })
  await qr.waitFor()
  t.equal(await qr.evaluate((el) => el.tagName.toLowerCase()), 'svg', 'the QR code is drawn in the page (SVG), no image service')
  const secret = (await page.locator('#totp-secret').textContent())!.trim()
  t.match(secret, /^[A-Z2-7]{16,}$/)
  await shot(page, 'mfa-01-totp-qr')
  await page.getByLabel('Code from the app').fill(await code(secret, -1))
  await page.getByRole('button', { name: 'Confirm' }).click()
  await page.getByText('Authenticator app: on').waitFor()
  recoveryCodes = await page.locator('.recovery-codes li').allTextContents()
  t.equal(recoveryCodes.length, 10, 'ten recovery codes shown once')

  await signOut(page)
  await passwordStep(page, email)
  await page.getByRole('heading', { name: 'Two-step verification' }).waitFor()
  const cookies = await carol.context.cookies()
  t.notOk(
    cookies.some((c) => c.name === 'palisade_access' || c.name === 'palisade_refresh'),
    'no session after the password alone'
  )
  t.ok(cookies.find((c) => c.name === 'palisade_mfa')?.httpOnly, 'an httpOnly ticket instead')
  await page.getByLabel('Authentication code').fill('000000' === (await code(secret)) ? '111111' : '000000')
  await page.getByRole('button', { name: 'Verify' }).click()
  await page.getByText('That code is not valid.').waitFor()
  await page.getByLabel('Authentication code').fill(await code(secret))
  await page.getByRole('button', { name: 'Verify' }).click()
  await page.waitForURL((u) => u.pathname === '/')
  await page.locator('#conn[data-state=online]').waitFor()
  t.pass('signed in with password + TOTP')
})

await t.test('recovery code sign-in', async (t) => {
  const { page, email } = carol
  await signOut(page)
  await passwordStep(page, email)
  await page.getByRole('button', { name: 'Use a recovery code' }).click()
  await page.getByLabel('Recovery code').fill(recoveryCodes[0]!)
  await page.getByRole('button', { name: 'Verify' }).click()
  await page.waitForURL((u) => u.pathname === '/')
  await openAccount(page)
  t.equal(await page.locator('#recovery-left').textContent(), '9 unused recovery codes left.', 'the code is spent')
})

await t.test('step-up: a stale session is asked for the password before a password change', async (t) => {
  const { page } = carol
  await openAccount(page)
  await db.query("UPDATE auth.sessions SET authenticated_at = now() - interval '10 minutes'")
  await page.getByLabel('Current password').fill(password)
  await page.getByLabel('New password').fill('another long password for e2e')
  await page.getByRole('button', { name: 'Change password' }).click()
  const dialog = page.getByRole('dialog', { name: 'Confirm it’s you' })
  await dialog.waitFor()
  t.ok(await dialog.getByLabel('Password').evaluate((el) => el === document.activeElement), 'focus is in the dialog')
  await shot(page, 'mfa-02-step-up')
  await dialog.getByLabel('Password').fill('wrong password!!')
  await dialog.getByRole('button', { name: 'Confirm' }).click()
  await dialog.getByText('That did not match. Try again.').waitFor()
  await dialog.getByLabel('Password').fill(password)
  await dialog.getByRole('button', { name: 'Confirm' }).click()
  await page.getByText('Password changed. Your other sessions were signed out.').waitFor()
  t.equal(await dialog.count(), 0, 'the dialog is gone and the request was retried')
})

await t.test('passkeys: enrol with the virtual authenticator, then sign in with the passkey alone', async (t) => {
  const { page, context, email } = dave
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true }
  })
  await register(page, email, 'Dave')
  await openAccount(page)
  await page.getByLabel('Passkey name').fill('Test laptop')
  await page.getByRole('button', { name: 'Add a passkey' }).click()
  await page.locator('#passkey-list li', { hasText: 'Test laptop' }).waitFor()
  t.equal(await page.locator('.recovery-codes li').count(), 10, 'first factor: recovery codes')
  await shot(page, 'mfa-03-passkeys')

  await signOut(page)
  await passwordStep(page, email)
  await page.getByRole('heading', { name: 'Two-step verification' }).waitFor()
  await page.getByRole('button', { name: 'Use a passkey' }).click()
  await page.waitForURL((u) => u.pathname === '/')
  t.pass('password + passkey')

  await signOut(page)
  await page.getByRole('button', { name: 'Continue with a passkey' }).click()
  await page.waitForURL((u) => u.pathname === '/')
  await page.locator('#conn[data-state=online]').waitFor()
  t.pass('passkey-only sign-in')
})

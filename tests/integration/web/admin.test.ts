import t from 'tap'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { ARTIFACTS, browserSuite } from './helpers/stack.js'

/**
 * The administration side in Chromium against the one-command stack in invite mode: the first
 * account becomes admin, invites bring people in (once), an admin disables someone and that
 * person's open tab lands on /login, a password-reset link sets a new password.
 */

const { browser, origin } = await browserSuite(t, { AUTH_REGISTRATION: 'invite' })
const password = 'a long enough password for e2e'
const stamp = Date.now().toString(36)
const shot = (p: Page, name: string) => p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })

interface Person {
  context: BrowserContext
  page: Page
  email: string
}

async function newPerson(label: string): Promise<Person> {
  const context = await browser.newContext({ baseURL: origin, viewport: { width: 1200, height: 900 } })
  return { context, page: await context.newPage(), email: `${label}-${stamp}@test.palisade.example` }
}

async function fillRegistration(p: Person, name: string): Promise<void> {
  await p.page.getByLabel('Display name').fill(name)
  await p.page.getByLabel('Email').fill(p.email)
  await p.page.getByLabel('Password').fill(password)
  await p.page.getByRole('button', { name: 'Create account' }).click()
}

const root = await newPerson('root')
const bob = await newPerson('bob')
const eve = await newPerson('eve')
let inviteLink = ''

await t.test('the first account registers without an invite and is the admin', async (t) => {
  await root.page.goto('/login#register')
  await fillRegistration(root, 'Root')
  await root.page.waitForURL((u) => u.pathname === '/')
  await root.page.locator('#conn[data-state=online]').waitFor()
  await root.page.getByRole('button', { name: 'Admin', exact: true }).click()
  await root.page.getByRole('heading', { name: 'Administration' }).waitFor()
  t.pass('the admin console is there for the admin')
  await root.page.locator('#audit-chain', { hasText: 'Hash chain verified' }).waitFor()
  t.pass('the audit log says the chain verifies')
})

await t.test('without an invite nobody else registers; an invite link works once', async (t) => {
  await bob.page.goto('/login#register')
  await fillRegistration(bob, 'Bob')
  await bob.page.getByText('You need an invite').waitFor()
  t.pass('refused without an invite, with a clear message')

  await root.page.getByRole('button', { name: 'Create invite' }).click()
  const link = root.page.locator('#invite-link')
  await link.waitFor()
  inviteLink = await link.inputValue()
  t.match(inviteLink, new RegExp(`^${origin}/login#invite=[A-Za-z0-9_-]{43}$`), 'the link carries the token in the fragment')
  await shot(root.page, 'admin-01-invite')

  await bob.page.goto(inviteLink)
  await bob.page.getByText('You have been invited').waitFor()
  t.equal(new URL(bob.page.url()).hash, '', 'the token is dropped from the address bar')
  await fillRegistration(bob, 'Bob')
  await bob.page.waitForURL((u) => u.pathname === '/')
  await bob.page.locator('#conn[data-state=online]').waitFor()
  t.notOk(await bob.page.getByRole('button', { name: 'Admin', exact: true }).isVisible(), 'an invited member sees no admin console')

  await eve.page.goto(inviteLink)
  await fillRegistration(eve, 'Eve')
  await eve.page.getByText('This invite link cannot be used').waitFor()
  t.pass('the same link a second time: refused')
  await root.page.getByRole('button', { name: 'Admin', exact: true }).click()
  await root.page.locator('#invite-list li', { hasText: 'used' }).waitFor()
  t.pass('reopened, the console lists the invite as used')
})

await t.test('an admin disables a user: their open tab lands on /login within a second', async (t) => {
  await root.page.locator('#admin-q').fill('bob')
  await root.page.getByRole('button', { name: 'Search' }).click()
  await root.page.locator('#admin-users button', { hasText: bob.email }).click()
  await root.page.locator('#admin-user-sessions li', { hasText: 'Chrome' }).waitFor()
  t.pass('the admin sees the user’s session with a readable device name')
  await root.page.locator('#admin-user-factors li', { hasText: 'Password' }).waitFor()
  await shot(root.page, 'admin-02-user')

  const landed = bob.page.waitForURL(/\/login/, { timeout: 20_000 }).then(() => Date.now())
  const answered = root.page
    .waitForResponse((r) => r.url().endsWith('/disable') && r.request().method() === 'POST')
    .then((r) => ({ at: Date.now(), status: r.status() }))
  const clicked = Date.now()
  await root.page.getByRole('button', { name: 'Disable' }).click()
  const response = await answered
  t.equal(response.status, 204)
  const at = await landed
  const sinceAnswer = at - response.at
  const sinceClick = at - clicked
  // The requirement is 1 s; only a machine loaded beyond its cores gets slack in the assertion.
  const loaded = loadavg()[0]! > cpus().length
  t.comment(`disable → /login: ${sinceAnswer} ms after the API answered, ${sinceClick} ms after the click (load ${loadavg()[0]!.toFixed(1)})`)
  t.ok(sinceAnswer <= (loaded ? 5000 : 1000), `the disabled user's tab left the app ${sinceAnswer} ms after the disable`)

  await bob.page.getByLabel('Email').fill(bob.email)
  await bob.page.getByLabel('Password').fill(password)
  await bob.page.getByRole('button', { name: 'Sign in' }).click()
  await bob.page.getByText('disabled by an administrator').waitFor()
  t.pass('signing in again: a clear refusal')
  await root.page.locator('#audit-form').getByRole('button', { name: 'Filter' }).click()
  await root.page.locator('#audit-list li', { hasText: 'admin.user_disabled' }).first().waitFor()
  t.pass('the disable is in the audit log')
})

await t.test('enable, then a one-time password-reset link sets a new password', async (t) => {
  await root.page.getByRole('button', { name: 'Enable' }).click()
  await root.page.locator('#admin-result', { hasText: 'Enabled' }).waitFor()
  await root.page.getByRole('button', { name: 'Password-reset link' }).click()
  const text = (await root.page.locator('#admin-result', { hasText: 'Hand this link over' }).textContent()) ?? ''
  const link = /(http:\/\/\S+#reset=[A-Za-z0-9_-]{43})/.exec(text)?.[1]
  t.ok(link, 'the admin gets a link to hand over')
  await bob.page.goto(link!)
  await bob.page.getByRole('heading', { name: 'Set a new password' }).waitFor()
  await bob.page.getByLabel('New password').fill(`${password} reset`)
  await bob.page.getByRole('button', { name: 'Set password' }).click()
  await bob.page.getByText('Your password is set').waitFor()
  await bob.page.getByLabel('Email').fill(bob.email)
  await bob.page.getByLabel('Password').fill(`${password} reset`)
  await bob.page.getByRole('button', { name: 'Sign in' }).click()
  await bob.page.waitForURL((u) => u.pathname === '/')
  t.pass('signed in with the new password')
  await bob.page.goto(link!)
  await bob.page.getByLabel('New password').fill(`${password} again`)
  await bob.page.getByRole('button', { name: 'Set password' }).click()
  await bob.page.getByText('This reset link cannot be used').waitFor()
  t.pass('the link works once')
})

await t.test('sessions list: this device first with a readable name; sign out everywhere', async (t) => {
  await bob.page.goto('/')
  await bob.page.getByRole('button', { name: 'Account' }).click()
  const first = bob.page.locator('#session-list li').first()
  await first.waitFor()
  t.match(await first.textContent(), /^This device · Chrome[^·]* on Linux · [0-9a-f.:]+ · last used /, 'this device, named, with its address')
  await bob.page.getByRole('button', { name: 'Sign out everywhere' }).click()
  await bob.page.waitForURL(/\/login/)
  const me = await bob.context.request.get('/auth/me')
  t.equal(me.status(), 401, 'every session of the account is gone')
})

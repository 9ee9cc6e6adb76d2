import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { get } from 'node:http'
import type { BrowserContext, Page } from 'playwright-core'
import { ARTIFACTS, browserSuite } from './helpers/stack.js'
import { ConsoleWatch } from './helpers/people.js'

/**
 * The browser experience end to end: Debian's Chromium (playwright-core) against the one-command
 * stack (`pnpm start`: every service, nats-server, the local edge). Screenshots of the main screens
 * go to test-artifacts/web/.
 */

const { browser, origin } = await browserSuite(t)
const password = 'a long enough password for e2e'
const stamp = Date.now().toString(36)

const log: string[] = []
/** Every page of the run: no console error, no uncaught exception (checked by the last test). */
const watch = new ConsoleWatch()
t.afterEach((t) => {
  if (!t.passing() && log.length) t.comment(log.join('\n'))
  log.length = 0
})

interface Person {
  context: BrowserContext
  page: Page
  email: string
  dialogs: string[]
}

async function newPerson(label: string): Promise<Person> {
  const context = await browser.newContext({ baseURL: origin, viewport: { width: 1200, height: 800 } })
  const page = await context.newPage()
  const dialogs: string[] = []
  // The app's only dialog is "Delete this message?"; any other one (alert from injected HTML) is a finding.
  page.on('dialog', (d) => {
    if (d.type() === 'confirm' && d.message() === 'Delete this message?') return void d.accept()
    dialogs.push(`${d.type()}: ${d.message()}`)
    void d.dismiss()
  })
  // What went wrong, for the failure report: refused API calls and console errors.
  page.on('response', (r) => {
    if (r.status() >= 400) log.push(`${label}: ${r.request().method()} ${new URL(r.url()).pathname} → ${r.status()}`)
  })
  page.on('console', (m) => {
    if (m.type() === 'error') log.push(`${label} console: ${m.text()}`)
  })
  watch.attach(page, label)
  return { context, page, email: `${label}-${stamp}@test.palisade.example`, dialogs }
}

async function register(p: Person, name: string, next = '/'): Promise<void> {
  await p.page.goto(next)
  await p.page.waitForURL(/\/login\?next=/)
  await p.page.getByRole('button', { name: 'Create an account' }).click()
  await p.page.getByLabel('Display name').fill(name)
  await p.page.getByLabel('Email').fill(p.email)
  await p.page.getByLabel('Password').fill(password)
  await p.page.getByRole('button', { name: 'Create account' }).click()
  await p.page.waitForURL((u) => u.pathname === '/')
  await p.page.locator('#conn[data-state=online]').waitFor()
}

// Everything awaited outside a subtest happens before the first one: tap ends the file (and runs
// the teardown) as soon as no subtest is pending.
const alice = await newPerson('alice')
const bob = await newPerson('bob')
const eve = await newPerson('eve')
const second = await browser.newContext({ baseURL: origin })

/** A valid 1×1 PNG (the files service sniffs the bytes, so it must be a real one). */
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=='

const shot = (p: Page, name: string) => p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })

await t.test('the edge serves the app as the route table says', async (t) => {
  const login = await fetch(`${origin}/login`)
  t.equal(login.status, 200, '/login is public')
  t.match(login.headers.get('content-security-policy'), /script-src 'self'/)
  const html = await login.text()
  const asset = /src="(\/assets\/[^"]+)"/.exec(html)![1]!
  t.equal((await fetch(origin + asset)).status, 200, '/assets/* is public')
  // node:http, not fetch: fetch sets Sec-Fetch-Mode: cors itself, and only navigations are redirected.
  const app = await new Promise<{ status: number; location: string | undefined }>((resolve, reject) =>
    get(`${origin}/?x=1`, { headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate' } }, (r) => {
      r.resume()
      resolve({ status: r.statusCode!, location: r.headers.location })
    }).on('error', reject)
  )
  t.equal(app.status, 302, '/ without a session is redirected by ForwardAuth')
  t.equal(app.location, '/login?next=%2F%3Fx%3D1')
  const api = await fetch(`${origin}/`, { headers: { accept: 'application/json' } })
  t.equal(api.status, 401, 'and a non-navigation gets 401')
})

await t.test('unauthenticated navigation lands on /login, registration signs in and returns to next', async (t) => {
  await alice.page.goto('/?from=e2e')
  t.match(alice.page.url(), /\/login\?next=%2F%3Ffrom%3De2e$/, 'redirected to the login page')
  await shot(alice.page, '01-login')
  await alice.page.getByRole('button', { name: 'Create an account' }).click()
  await alice.page.getByLabel('Display name').fill('Alice')
  await alice.page.getByLabel('Email').fill(alice.email)
  await alice.page.getByLabel('Password').fill(password)
  await alice.page.getByRole('button', { name: 'Create account' }).click()
  await alice.page.waitForURL(`${origin}/?from=e2e`)
  t.pass('back at next after registering')
  await alice.page.locator('#conn[data-state=online]').waitFor()
  t.pass('the WebSocket is up')
  const cookies = await alice.context.cookies()
  t.ok(cookies.find((c) => c.name === 'palisade_access')?.httpOnly, 'the access cookie is httpOnly')
  t.equal(await alice.page.evaluate(() => document.cookie), '', 'no cookie readable from JavaScript')
  t.equal(await alice.page.evaluate(() => localStorage.length + sessionStorage.length), 0, 'nothing in web storage')
  await shot(alice.page, '02-app-empty')

  // Sign out, then sign in again with the login form (not the register path).
  await alice.page.getByRole('button', { name: 'Sign out', exact: true }).click()
  await alice.page.waitForURL(/\/login/)
  await alice.page.goto('/')
  await alice.page.waitForURL(/\/login\?next=%2F$/)
  t.pass('signed out: / goes to /login again')
  await alice.page.getByLabel('Email').fill(alice.email)
  await alice.page.getByLabel('Password').fill('wrong password!!')
  await alice.page.getByRole('button', { name: 'Sign in' }).click()
  await alice.page.getByText('Wrong email or password.').waitFor()
  await alice.page.getByLabel('Password').fill(password)
  await alice.page.getByRole('button', { name: 'Sign in' }).click()
  await alice.page.waitForURL(`${origin}/`)
  await alice.page.locator('#conn[data-state=online]').waitFor()
  t.pass('signed in with the login form')
})

await t.test('an open redirect through next is refused', async (t) => {
  const p = eve
  await p.page.goto('/login?next=%2F%2Fevil.example%2F')
  await p.page.getByRole('button', { name: 'Create an account' }).click()
  await p.page.getByLabel('Display name').fill('Eve')
  await p.page.getByLabel('Email').fill(p.email)
  await p.page.getByLabel('Password').fill(password)
  await p.page.getByRole('button', { name: 'Create account' }).click()
  await p.page.waitForURL(`${origin}/`)
  t.pass('//evil.example became /')
  await p.context.close()
})

let conversationTitle = ''
await t.test('two people chat in realtime; HTML in a message stays text', async (t) => {
  await register(bob, 'Bob')
  conversationTitle = `Team ${stamp}`

  await alice.page.getByLabel('New conversation').fill(conversationTitle)
  await alice.page.getByRole('button', { name: 'Create', exact: true }).click()
  await alice.page.getByRole('heading', { name: conversationTitle }).waitFor()
  await alice.page.getByRole('button', { name: 'Members' }).click()
  // Members are added by email through auth's user directory; an unknown address says so inline.
  const addEmail = alice.page.getByLabel('Email', { exact: true })
  await addEmail.fill(`nobody-${stamp}@test.palisade.example`)
  await alice.page.getByRole('button', { name: 'Add', exact: true }).click()
  await alice.page.getByRole('alert').getByText(`No user with the email nobody-${stamp}@test.palisade.example.`).waitFor()
  t.pass('an unknown email is a clear inline error')
  await addEmail.fill(` ${bob.email.toUpperCase()} `)
  await alice.page.getByRole('button', { name: 'Add', exact: true }).click()
  const bobRow = alice.page.locator('#member-list li', { hasText: 'Bob' })
  await bobRow.waitFor()
  t.equal(await bobRow.locator('.member-name').textContent(), 'Bob', 'Bob added by email, listed by display name')
  t.equal(await alice.page.locator('#member-list li', { hasText: /Member [0-9a-f]{8}/ }).count(), 0, 'no member shown as a short id')
  t.equal(await alice.page.locator('#add-member-error').textContent(), '', 'the error is gone after a successful add')
  t.equal(await addEmail.inputValue(), '', 'and the field is cleared')

  // Bob's list shows the conversation without a reload (member.added over the socket).
  const bobConv = bob.page.locator('#conv-list button', { hasText: conversationTitle })
  await bobConv.waitFor()
  t.pass('the conversation appears in the other browser')

  await alice.page.getByLabel('Message', { exact: true }).fill('hello from Alice')
  await alice.page.keyboard.press('Enter')
  await bobConv.locator('.badge', { hasText: '1' }).waitFor()
  t.pass('unread count in the other browser')
  await bobConv.click()
  const received = bob.page.locator('#messages .msg', { hasText: 'hello from Alice' })
  await received.waitFor()
  await received.locator('.who', { hasText: 'Alice' }).waitFor()
  t.equal(await received.locator('.who').textContent(), 'Alice', 'the received message shows the author’s display name')

  // Typing indicator, by name.
  await bob.page.getByLabel('Message', { exact: true }).pressSequentially('typ')
  await alice.page.getByText('Bob is typing…').waitFor()
  t.pass('typing indicator names who types')

  const xss = '<img src=x onerror=alert(1)> and <script>alert(2)</script>'
  await bob.page.getByLabel('Message', { exact: true }).fill(xss)
  await bob.page.getByRole('button', { name: 'Send' }).click()
  const seen = alice.page.locator('#messages .msg .text', { hasText: '<img src=x onerror=alert(1)>' })
  await seen.waitFor()
  t.equal(await seen.textContent(), xss, 'the message renders as its text')
  t.equal(
    await alice.page.locator('#messages .msg', { hasText: '<img src=x onerror=alert(1)>' }).locator('.who').textContent(),
    'Bob',
    'and its author by name'
  )
  t.equal(await alice.page.locator('#messages img[src=x], #messages script').count(), 0, 'no element was created from it')
  await alice.page.waitForTimeout(300)
  t.same([...alice.dialogs, ...bob.dialogs], [], 'no script ran')

  // Realtime the other way round, and no duplicates of what was sent.
  await alice.page.getByLabel('Message', { exact: true }).fill('second from Alice')
  await alice.page.keyboard.press('Enter')
  await bob.page.locator('#messages .msg .text', { hasText: 'second from Alice' }).waitFor()
  await alice.page.waitForTimeout(300)
  t.equal(await alice.page.locator('#messages .msg .text', { hasText: 'second from Alice' }).count(), 1, 'exactly one copy for the sender')
  t.equal(await bob.page.locator('#messages .msg .text', { hasText: 'second from Alice' }).count(), 1, 'and for the receiver')
  await shot(alice.page, '03-conversation')
  await shot(bob.page, '04-conversation-other')
})

await t.test('network loss: the socket comes back and catches up over HTTP, without duplicates', async (t) => {
  await alice.context.setOffline(true)
  await alice.page.waitForFunction(() => document.getElementById('conn')?.dataset.state !== 'online')
  t.pass('the app noticed the network went away')
  await bob.page.getByLabel('Message', { exact: true }).fill('sent while Alice was offline')
  await bob.page.keyboard.press('Enter')
  await bob.page.locator('#messages .msg.mine:not(.pending) .text', { hasText: 'sent while Alice was offline' }).waitFor()
  await alice.page.waitForTimeout(500)
  t.equal(await alice.page.locator('#messages .msg .text', { hasText: 'sent while Alice was offline' }).count(), 0, 'not delivered while offline')
  await alice.context.setOffline(false)
  await alice.page.locator('#conn[data-state=online]').waitFor()
  await alice.page.locator('#messages .msg .text', { hasText: 'sent while Alice was offline' }).waitFor()
  await alice.page.waitForTimeout(500)
  t.equal(await alice.page.locator('#messages .msg .text', { hasText: 'sent while Alice was offline' }).count(), 1, 'caught up once after reconnecting')
  t.equal(await alice.page.locator('#messages .msg .text', { hasText: 'second from Alice' }).count(), 1, 'and nothing doubled')
})

await t.test('the identity lease is renewed in place by GET /ws: the socket outlives its first lease', async (t) => {
  // The stack runs with a 20 s lease, renewed ~5 s after each hello: watching for longer than one
  // lease proves the socket was extended, not replaced.
  const opened: string[] = []
  const renewals: number[] = []
  const onSocket = (ws: { url(): string }) => opened.push(ws.url())
  const onResponse = (r: { url(): string; status(): number; request(): { method(): string } }) => {
    if (new URL(r.url()).pathname === '/ws' && r.request().method() === 'GET') renewals.push(r.status())
  }
  alice.page.on('websocket', onSocket)
  alice.page.on('response', onResponse)
  await alice.page.waitForTimeout(22_000)
  alice.page.off('websocket', onSocket)
  alice.page.off('response', onResponse)
  t.ok(renewals.length > 0, `the browser renewed the lease (${renewals.length} renewal(s))`)
  t.same([...new Set(renewals)], [200], 'every renewal was accepted (no Origin is sent on a same-origin GET)')
  t.same(opened, [], 'no socket was replaced or reopened')
  await bob.page.getByLabel('Message', { exact: true }).fill('after the renewal')
  await bob.page.keyboard.press('Enter')
  await alice.page.locator('#messages .msg .text', { hasText: 'after the renewal' }).waitFor()
  await alice.page.waitForTimeout(500)
  t.equal(await alice.page.locator('#messages .msg .text', { hasText: 'after the renewal' }).count(), 1, 'delivered once')
  t.equal(await alice.page.locator('#conn').getAttribute('data-state'), 'online', 'never shown offline')
})

await t.test('edit and delete own messages reach the other browser', async (t) => {
  const mine = alice.page.locator('#messages .msg.mine', { hasText: 'second from Alice' })
  // The actions show on hover or focus (they are not a Tab stop of their own).
  await mine.hover()
  await mine.getByRole('button', { name: 'Edit message' }).click()
  await alice.page.getByLabel('Edit message text').fill('second from Alice, edited')
  await alice.page.getByRole('button', { name: 'Save' }).click()
  await bob.page.locator('#messages .msg', { hasText: 'second from Alice, edited' }).getByText('(edited)').waitFor()
  t.pass('edit seen live')
  const first = alice.page.locator('#messages .msg.mine', { hasText: 'hello from Alice' })
  await first.hover()
  await first.getByRole('button', { name: 'Delete message' }).click()
  await bob.page.locator('#messages .msg .text', { hasText: 'hello from Alice' }).waitFor({ state: 'detached' })
  t.pass('delete seen live')
})

await t.test('upload a file, see it as a link in the other browser and download it', async (t) => {
  const body = `notes ${stamp}\n<b>not bold</b>\n`
  // files sanitises names (no < > / …); what is left of the markup must still be text.
  const name = `notes & <b>${stamp}.txt`
  await alice.page.locator('#file-input').setInputFiles({ name, mimeType: 'text/plain', buffer: Buffer.from(body) })
  const link = bob.page.locator('#messages .attachment a', { hasText: stamp })
  await link.waitFor()
  t.match(await link.textContent(), new RegExp(`^notes & .b.${stamp}\\.txt$`), 'the file name renders as text in the other browser')
  t.equal(await bob.page.locator('#messages .attachment b').count(), 0)
  const [download] = await Promise.all([bob.page.waitForEvent('download'), link.click()])
  const path = await download.path()
  t.equal(readFileSync(path!, 'utf8'), body, 'downloaded bytes are the uploaded ones')
  await shot(bob.page, '05-file')
})

await t.test('an image dropped on the conversation is previewed in the other browser', async (t) => {
  const name = `pixel-${stamp}.png`
  await alice.page.evaluate(
    ({ name, b64 }) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
      const dt = new DataTransfer()
      dt.items.add(new File([bytes], name, { type: 'image/png' }))
      document.getElementById('conversation')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
    },
    { name, b64: PNG_1X1 }
  )
  const img = bob.page.locator(`#messages .attachment img[alt="${name}"]`)
  await img.waitFor()
  await bob.page.waitForFunction((n) => (document.querySelector(`#messages .attachment img[alt="${n}"]`) as HTMLImageElement | null)?.naturalWidth === 1, name)
  t.pass('previewed (the CSP allows same-origin images) with a download link beside it')
  t.equal(await bob.page.locator('#messages .attachment a', { hasText: name }).count(), 1)
})

await t.test('run an agent, watch the reply stream in, cancel a second run', async (t) => {
  // @slow: five words at the stack's 40 ms could end before a loaded machine shows the run view.
  await alice.page.getByLabel('Message', { exact: true }).fill('Say something, agent\n@slow 200')
  await alice.page.getByRole('button', { name: 'Run agent on message box' }).click()
  const streaming = alice.page.locator('#messages .msg.agent.streaming')
  await streaming.waitFor()
  t.pass('the run shows up while it streams')
  await bob.page.locator('#messages .msg.agent[data-id] .who', { hasText: 'Assistant' }).waitFor({ timeout: 60_000 })
  t.pass("the agent's message lands for every member, labelled with the agent's name")
  await shot(alice.page, '06-agent')

  // Slow as well: at full speed the run can end before the Cancel button was ever on screen.
  await alice.page.getByLabel('Message', { exact: true }).fill('A second run to cancel\n@slow 200')
  await alice.page.getByRole('button', { name: 'Run agent on message box' }).click()
  const cancel = alice.page.getByRole('button', { name: 'Cancel run' })
  await cancel.waitFor()
  await cancel.click()
  await alice.page.locator('#messages .msg.agent .run-state', { hasText: /\((cancelled|done)\)/ }).waitFor({ timeout: 30_000 })
  t.pass('cancel answered')
})

await t.test('search finds a message', async (t) => {
  await bob.page.getByLabel('Search messages').fill('edited')
  await bob.page.getByLabel('Search messages').press('Enter')
  await bob.page.locator('#search-list li', { hasText: 'second from Alice, edited' }).waitFor()
  t.pass('search result shown')
  // Filters as people type them: the conversation by its title, the sender by name
  await bob.page.getByLabel('Search messages').fill(`edited in:"${conversationTitle}" from:"Alice"`)
  await bob.page.getByLabel('Search messages').press('Enter')
  await bob.page.locator('#search-list li', { hasText: 'second from Alice, edited' }).waitFor()
  t.pass('in: and from: by name')
  await bob.page.getByLabel('Search messages').fill('edited in:"No such room"')
  await bob.page.getByLabel('Search messages').press('Enter')
  await bob.page.locator('#search-list li', { hasText: 'No conversation titled' }).waitFor()
  t.pass('an unknown title is said, not searched')
  await bob.page.getByRole('button', { name: 'Close' }).first().click()
})

await t.test('unread counts are kept by the server: they survive a reload, and reading clears them everywhere', async (t) => {
  // Alice moves to another conversation of her own; the team conversation is fully read.
  const elsewhere = `Elsewhere ${stamp}`
  await alice.page.getByLabel('New conversation').fill(elsewhere)
  await alice.page.getByRole('button', { name: 'Create', exact: true }).click()
  await alice.page.getByRole('heading', { name: elsewhere }).waitFor()
  const team = (p: Page) => p.locator('#conv-list button', { hasText: conversationTitle })
  await alice.page.waitForTimeout(500)
  t.equal(await team(alice.page).locator('.badge').count(), 0, 'nothing unread in the team conversation yet')

  for (const text of ['unread one', 'unread two', 'unread three']) {
    await bob.page.getByLabel('Message', { exact: true }).fill(text)
    await bob.page.keyboard.press('Enter')
    await bob.page.locator('#messages .msg.mine:not(.pending) .text', { hasText: text }).waitFor()
  }
  await team(alice.page).locator('.badge', { hasText: /^3$/ }).waitFor()
  t.pass('counted live')
  t.equal(await team(bob.page).locator('.badge').count(), 0, 'his own messages are not unread for Bob')

  await alice.page.reload()
  await alice.page.getByRole('heading', { name: elsewhere }).waitFor()
  await team(alice.page).locator('.badge', { hasText: /^3$/ }).waitFor()
  t.equal(await team(alice.page).locator('.badge').getAttribute('aria-label'), '3 unread', 'after a reload the server still says 3')
  await shot(alice.page, '09-unread')

  // A second tab of Alice's: its badge clears when the first one reads the conversation.
  const tab = await alice.context.newPage()
  await tab.goto('/')
  await team(tab).locator('.badge', { hasText: /^3$/ }).waitFor()
  const marked = alice.page.waitForResponse(
    (r) => /\/api\/chat\/conversations\/[0-9a-f-]+\/read$/.test(new URL(r.url()).pathname) && r.request().method() === 'POST'
  )
  await team(alice.page).click()
  await alice.page.locator('#messages .msg .text', { hasText: 'unread three' }).waitFor()
  t.equal((await marked).status(), 204, 'opening the conversation marks it read')
  t.equal(await team(alice.page).locator('.badge').count(), 0, 'the badge is gone')
  await team(tab).locator('.badge').waitFor({ state: 'detached' })
  t.pass('and in the other tab, live (conversation.read)')
  await tab.close()

  // Back to the other conversation and reload: still read.
  await alice.page.locator('#conv-list button', { hasText: elsewhere }).click()
  await alice.page.getByRole('heading', { name: elsewhere }).waitFor()
  await alice.page.reload()
  await alice.page.getByRole('heading', { name: elsewhere }).waitFor()
  await alice.page.locator('#conn[data-state=online]').waitFor()
  t.equal(await team(alice.page).locator('.badge').count(), 0, 'still read after another reload')

  // A message arriving in the open conversation is marked read at once: a reload shows no badge.
  const isRead = (r: { url(): string; request(): { method(): string } }) => new URL(r.url()).pathname.endsWith('/read') && r.request().method() === 'POST'
  const reopened = alice.page.waitForResponse(isRead)
  await team(alice.page).click()
  await alice.page.locator('#messages .msg .text', { hasText: 'unread three' }).waitFor()
  await reopened // (a fresh page does not know it was read already; the server ignores the repeat)
  const markedAgain = alice.page.waitForResponse(isRead)
  await bob.page.getByLabel('Message', { exact: true }).fill('read while open')
  await bob.page.keyboard.press('Enter')
  await alice.page.locator('#messages .msg .text', { hasText: 'read while open' }).waitFor()
  t.equal((await markedAgain).status(), 204, 'marked read as it arrived')
  await alice.page.locator('#conv-list button', { hasText: elsewhere }).click()
  await alice.page.reload()
  await alice.page.getByRole('heading', { name: elsewhere }).waitFor()
  await alice.page.locator('#conn[data-state=online]').waitFor()
  t.equal(await team(alice.page).locator('.badge').count(), 0, 'nothing unread after a reload')
  // Leave Alice where the later tests expect her: in the team conversation.
  await team(alice.page).click()
  await alice.page.getByRole('heading', { name: conversationTitle }).waitFor()
})

await t.test('phone width: the conversation list is behind a labelled toggle', async (t) => {
  await bob.page.setViewportSize({ width: 390, height: 800 })
  const toggle = bob.page.getByRole('button', { name: 'Conversations' })
  await toggle.click()
  t.equal(await toggle.getAttribute('aria-expanded'), 'true')
  await bob.page.locator('#conv-list button', { hasText: conversationTitle }).click()
  await shot(bob.page, '08-phone')
  t.equal(await toggle.getAttribute('aria-expanded'), 'false', 'closed after picking a conversation')
  await bob.page.setViewportSize({ width: 1200, height: 800 })
})

await t.test('change password: the new one signs in, the old one no longer does', async (t) => {
  await bob.page.getByRole('button', { name: 'Account' }).click()
  await bob.page.getByLabel('Current password').fill(password)
  await bob.page.getByLabel('New password').fill(`${password} changed`)
  await bob.page.getByRole('button', { name: 'Change password' }).click()
  await bob.page.getByText('Password changed.').waitFor()
  const login = (pw: string) =>
    fetch(`${origin}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify({ email: bob.email, password: pw })
    }).then((r) => r.status)
  t.equal(await login(`${password} changed`), 200)
  t.equal(await login(password), 401)
  await bob.page.getByRole('button', { name: 'Close' }).last().click()
})

await t.test('the owner removes a member: the conversation leaves their list live', async (t) => {
  await alice.page.getByRole('button', { name: 'Members' }).click()
  const members = alice.page.locator('#members')
  if (!(await members.isVisible())) await alice.page.getByRole('button', { name: 'Members' }).click()
  await alice.page.locator('#member-list li', { hasText: 'Bob' }).getByRole('button', { name: 'Remove Bob' }).click()
  await bob.page.locator('#conv-list button', { hasText: conversationTitle }).waitFor({ state: 'detached' })
  t.pass('gone from the removed member without a reload')
})

await t.test('revoking a session from another browser sends the first one to /login', async (t) => {
  const page = await second.newPage()
  watch.attach(page, 'alice-2')
  await page.goto('/')
  await page.getByLabel('Email').fill(alice.email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${origin}/`)
  await page.getByRole('button', { name: 'Account' }).click()
  const revoke = page.getByRole('button', { name: 'Revoke' })
  await revoke.first().waitFor()
  await shot(page, '07-sessions')
  const n = await revoke.count()
  for (let i = 0; i < n; i++)
    await revoke
      .first()
      .click()
      .then(() => page.waitForTimeout(200))
  await alice.page.waitForURL(/\/login/, { timeout: 20_000 })
  t.pass('the revoked browser landed on /login without a reload')
  await second.close()
})

await t.test('no page of the run logged a console error or threw', async (t) => {
  // Give the pages sent to /login a moment: errors of a redirect come last.
  await alice.page.waitForTimeout(500)
  t.same(watch.errors, [])
})

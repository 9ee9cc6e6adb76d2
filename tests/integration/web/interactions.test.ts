import t from 'tap'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Locator } from 'playwright-core'
import { browserSuite } from './helpers/stack.js'
import { ConsoleWatch, createConversation, newPerson, register, type Person } from './helpers/people.js'

/**
 * Issue 26 items 2–4 in Chromium with two people against the whole stack: an @-mention picked in
 * the composer reaches the other person as a mention badge and a chip with their name; a reaction
 * toggled by one is seen, with who reacted, by the other; a reply written in the thread panel
 * shows in the other's open panel and as the parent's reply count.
 */

const { browser, origin } = await browserSuite(t)
const stamp = Date.now().toString(36)
const watch = new ConsoleWatch()
const ana = await newPerson(browser, origin, 'ana', stamp, watch)
const ben = await newPerson(browser, origin, 'ben', stamp, watch)
// Ben's page records notifications (headless Chromium shows none) and can be staged as hidden, as
// in rooms.test.ts; permission is granted from the start.
await ben.page.addInitScript(`(() => {
  window.__shown = []
  let hidden = false
  window.Notification = class {
    constructor(title, opts) { window.__shown.push({ title, body: (opts && opts.body) || '' }) }
    close() {}
    static get permission() { return 'granted' }
    static requestPermission() { return Promise.resolve('granted') }
  }
  Object.defineProperty(Document.prototype, 'visibilityState', { get: () => (hidden ? 'hidden' : 'visible') })
  window.__setHidden = (v) => { hidden = v; document.dispatchEvent(new Event('visibilitychange')) }
})()`)
type Recorded = { __shown: Array<{ title: string; body: string }>; __setHidden(v: boolean): void }
await register(ana, 'Ana Lima')
await register(ben, 'Ben Okafor')
const title = `Threads ${stamp}`
const conversationId = await createConversation(ana, title, [ben])
const convButton = (p: Person) => p.page.locator(`#conv-list button.conv[data-id="${conversationId}"]`)
const row = (p: Person, text: string): Locator => p.page.locator('#messages li.msg', { hasText: text }).first()

t.test('an @-mention picked in the composer notifies the other person and shows their name', async (t) => {
  await convButton(ben).waitFor()
  const box = ana.page.getByLabel('Message', { exact: true })
  await box.fill('@Be')
  await box.press('End')
  await box.pressSequentially('n')
  const option = ana.page.getByRole('option', { name: 'Ben Okafor' })
  await option.waitFor()
  await box.press('Enter')
  t.equal(await box.inputValue(), '@Ben Okafor ', 'the pick writes the name')
  await box.pressSequentially('please look at the plan')
  await box.press('Enter')

  const badge = convButton(ben).locator('.mention-badge')
  await badge.waitFor()
  t.equal(await badge.getAttribute('aria-label'), '1 unread mention', "the mention counts in Ben's list")
  await ben.page.waitForFunction(() => /Ana Lima mentioned you/.test(document.getElementById('status')?.textContent ?? ''))
  t.pass('Ben is told who mentioned him')

  await convButton(ben).click()
  const chip = row(ben, 'plan').locator('.mention.me')
  await chip.waitFor()
  t.equal(await chip.textContent(), '@Ben Okafor', 'the mention shows as his name (the text carries his id)')
  await badge.waitFor({ state: 'detached' })
  t.pass('reading the conversation clears the mention badge')
  t.equal(await row(ana, 'plan').locator('.mention').textContent(), '@Ben Okafor', 'Ana sees the name too')

  const mine = row(ana, 'plan')
  await mine.hover()
  await mine.getByRole('button', { name: 'Edit message' }).click()
  const edit = ana.page.getByLabel('Edit message text')
  t.equal(await edit.inputValue(), '@Ben Okafor please look at the plan', 'an edit shows the name, not the token')
  await edit.fill('@Ben Okafor please look at the plan today')
  await ana.page.getByRole('button', { name: 'Save' }).click()
  await row(ben, 'plan today').locator('.mention.me', { hasText: '@Ben Okafor' }).waitFor()
  t.pass('the edited message still mentions Ben')
})

t.test('a reaction toggled by one person is seen, with who reacted, by the other', async (t) => {
  const mine = row(ana, 'plan')
  await mine.hover()
  await mine.getByRole('button', { name: 'Add a reaction' }).click()
  await mine.getByRole('button', { name: 'React with 👍' }).click()
  const onBen = row(ben, 'plan').locator('.reaction', { hasText: '👍' })
  await onBen.waitFor()
  t.equal(await onBen.textContent(), '👍 1')
  t.equal(await onBen.getAttribute('aria-pressed'), 'false', 'not pressed for Ben')
  t.equal(await onBen.getAttribute('title'), 'Ana Lima', 'who reacted, on hover')
  t.equal(await onBen.getAttribute('aria-label'), '👍 1: Ana Lima', 'and as its accessible name')

  await onBen.click()
  const onAna = mine.locator('.reaction', { hasText: '👍' })
  await ana.page.waitForFunction(
    (id) => document.querySelector(`#messages li.msg[data-id="${id}"] .reaction`)?.textContent === '👍 2',
    await mine.getAttribute('data-id')
  )
  t.equal(await onAna.getAttribute('aria-label'), '👍 2: you, Ben Okafor', "Ana sees Ben's reaction")
  await row(ben, 'plan').locator('.reaction[aria-pressed="true"]').waitFor()
  t.pass('pressed for Ben now')

  await row(ben, 'plan').locator('.reaction').click()
  await ana.page.waitForFunction(
    (id) => document.querySelector(`#messages li.msg[data-id="${id}"] .reaction`)?.textContent === '👍 1',
    await mine.getAttribute('data-id')
  )
  t.pass('toggled off again, Ana sees it go')
  await row(ben, 'plan').locator('.reaction[aria-pressed="false"]').waitFor()
  t.pass('and Ben sees it unpressed')
})

t.test('a reply in the thread panel reaches the other person live, and the parent counts it', async (t) => {
  const parentOnBen = row(ben, 'plan')
  await parentOnBen.hover()
  await parentOnBen.getByRole('button', { name: 'Reply in thread' }).click()
  const benPanel = ben.page.getByRole('complementary', { name: 'Thread' })
  await benPanel.waitFor()
  await benPanel.getByLabel('Reply in thread').fill('on it')
  await benPanel.getByLabel('Reply in thread').press('Enter')
  await benPanel.locator('.thread-replies li', { hasText: 'on it' }).waitFor()
  t.pass("Ben's reply shows in his thread panel")

  const summary = row(ana, 'plan').locator('.thread-summary')
  await summary.waitFor()
  t.equal(await summary.textContent(), '1 reply · Ben Okafor', 'the parent shows the count and who replied')
  await ana.page.waitForFunction(() => /Ben Okafor replied in a thread/.test(document.getElementById('status')?.textContent ?? ''))
  t.pass('Ana, whose message it is, is told of the reply')

  await summary.click()
  const anaPanel = ana.page.getByRole('complementary', { name: 'Thread' })
  await anaPanel.locator('.thread-replies li', { hasText: 'on it' }).waitFor()
  await benPanel.getByLabel('Reply in thread').fill('done, see the doc')
  await benPanel.getByLabel('Reply in thread').press('Enter')
  await anaPanel.locator('.thread-replies li', { hasText: 'done, see the doc' }).waitFor()
  t.pass("a new reply appears in Ana's open panel without a reload")
  await ana.page.waitForFunction(() => document.querySelector('#messages .thread-summary')?.textContent === '2 replies · Ben Okafor')
  t.pass('and the count follows')
})

// The page's CSP refuses an injected <script>: axe is evaluated as a string (as in layout.test.ts).
const AXE = readFileSync(join(createRequire(import.meta.url).resolve('axe-core'), '..', 'axe.min.js'), 'utf8')

t.test('axe: no violations with the thread panel, reactions, mention chips and the @ list on screen', async (t) => {
  const box = ben.page.getByLabel('Message', { exact: true })
  await box.fill('@')
  await ben.page.getByRole('option', { name: 'Ana Lima' }).waitFor()
  for (const p of [ana, ben]) {
    await p.page.evaluate(AXE)
    const violations = await p.page.evaluate(() =>
      (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: Array<{ id: string; nodes: { target: unknown[] }[] }> }> } }).axe
        .run(document, { resultTypes: ['violations'] })
        .then((r) => r.violations.map((v) => `${v.id} at ${v.nodes.map((n) => JSON.stringify(n.target)).join(' ')}`))
    )
    t.same(violations, [], p === ana ? 'Ana: thread panel open, reactions, chips' : 'Ben: the @ list open')
  }
  await box.fill('')
})

t.test('notifications while hidden, at "mentions and replies": a mention and a reply in his thread, not chatter', async (t) => {
  // His thread panel (a drawer over the header) closes first.
  await ben.page.getByRole('complementary', { name: 'Thread' }).getByRole('button', { name: 'Close' }).click()
  await ben.page.getByRole('button', { name: 'Settings' }).click()
  await ben.page.getByLabel('Notify me of').selectOption('mentions')
  await ben.page.waitForResponse((r) => r.url().endsWith('/notifications') && r.status() === 200)
  await ben.page.evaluate(() => (window as unknown as Recorded).__setHidden(true))
  const shown = () => ben.page.evaluate(() => (window as unknown as Recorded).__shown)

  const box = ana.page.getByLabel('Message', { exact: true })
  await box.fill('just chatting')
  await box.press('Enter')
  await row(ben, 'just chatting').waitFor()
  await ben.page.waitForTimeout(300)
  t.same(await shown(), [], 'a plain message in a conversation of two does not notify at this level')

  await box.fill('@Be')
  await box.press('End')
  await box.pressSequentially('n')
  await ana.page.getByRole('option', { name: 'Ben Okafor' }).waitFor()
  await box.press('Enter')
  await box.pressSequentially('the review')
  await box.press('Enter')
  await ben.page.waitForFunction(() => (window as unknown as Recorded).__shown.length === 1)
  t.match((await shown())[0], { title: `Ana Lima mentioned you in ${title}`, body: /the review$/ }, 'a mention notifies')

  // Ben replied in this thread earlier: another reply there concerns him.
  const anaPanel = ana.page.getByRole('complementary', { name: 'Thread' })
  await anaPanel.getByLabel('Reply in thread').fill('thanks both')
  await anaPanel.getByLabel('Reply in thread').press('Enter')
  await ben.page.waitForFunction(() => (window as unknown as Recorded).__shown.length === 2)
  t.match((await shown())[1], { title: `Ana Lima replied to you in ${title}`, body: 'thanks both' }, 'a reply in his thread notifies')
  await ben.page.evaluate(() => (window as unknown as Recorded).__setHidden(false))
})

t.test('a search result shows mentions as names', async (t) => {
  await ben.page.getByLabel('Search messages').fill('plan today')
  await ben.page.getByLabel('Search messages').press('Enter')
  const found = ben.page.locator('#search-list li', { hasText: 'please look at the plan today' })
  await found.waitFor()
  t.equal(await found.locator('.mention').textContent(), '@Ben Okafor', 'a search result shows the name, not the token')
  t.notMatch(await found.textContent(), /<@/, 'no raw token in the result')
})

t.test('no console errors on either page', async (t) => {
  t.same(watch.errors, [])
})

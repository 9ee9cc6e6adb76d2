import t from 'tap'
import type { Page } from 'playwright-core'
import { browserSuite } from './helpers/stack.js'
import { ConsoleWatch, PASSWORD, createConversation, newPerson, register, send, type Person } from './helpers/people.js'
import { png } from './helpers/png.js'

/**
 * Issue 24, "keep the reader in place" and "feel", in Chromium against the whole stack: incremental
 * rendering with bounded requests, staying at the bottom with images, the location kept, message
 * actions off the Tab order, the account page, times, the tab title, the dark theme, Escape and drafts.
 */

const { browser, origin } = await browserSuite(t)
const stamp = Date.now().toString(36)
const watch = new ConsoleWatch()
const erin = await newPerson(browser, origin, 'erin', stamp, watch)
const finn = await newPerson(browser, origin, 'finn', stamp, watch)
const title = `Reader ${stamp}`
let conversationId = ''

/** Landscape, portrait, and one smaller than the frame's box (never scaled up). */
const PHOTO_SIZES: Record<number, [number, number]> = { 1: [400, 300], 2: [150, 300], 3: [120, 40] }

/** A full page load of `path` (a goto that only changes the #fragment would not reload). */
async function load(page: Page, path: string): Promise<void> {
  await page.goto('about:blank')
  await page.goto(path)
}

const distanceFromBottom = (p: Page) => p.locator('#messages').evaluate((l) => l.scrollHeight - l.scrollTop - l.clientHeight)
const fileMetaRequests = (p: Person) => p.requests.filter((r) => /^\/api\/files\/[0-9a-f-]{36}$/.test(new URL(r.url()).pathname)).length

await t.test('setup: two people, a conversation with many messages and three images', async (t) => {
  await register(erin, 'Erin')
  await register(finn, 'Finn')
  conversationId = await createConversation(erin, title, [finn])
  // Many text messages through the API (fast), then three images through the page.
  await erin.page.evaluate(
    async ({ id, n }) => {
      for (let i = 0; i < n; i++) {
        const r = await fetch(`/api/chat/conversations/${id}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: `filler ${i}`, clientMessageId: crypto.randomUUID() })
        })
        if (!r.ok) throw new Error(`send ${r.status}`)
      }
    },
    { id: conversationId, n: 60 }
  )
  for (const i of [1, 2, 3]) {
    const [w, h] = PHOTO_SIZES[i]!
    await erin.page.locator('#file-input').setInputFiles({ name: `photo-${i}.png`, mimeType: 'image/png', buffer: png(w, h) })
    await erin.page.locator(`#messages .attachment img[alt="photo-${i}.png"]`).waitFor()
  }
  // What the later tests use, so each of them stands on its own.
  for (const text of ['new one', 'new two', 'new three', 'last text before Finn opens it']) {
    await send(erin, text)
    await erin.page.locator('#messages .msg:not(.pending)', { hasText: text }).waitFor()
  }
  t.pass('60 texts and 3 images')
})

await t.test('opening a conversation with images: at the bottom, each file asked for once', async (t) => {
  finn.requests.length = 0
  await load(finn.page, `/#c=${conversationId}`)
  await finn.page.getByRole('heading', { name: title }).waitFor()
  await finn.page.locator('#messages .msg', { hasText: 'last text before Finn opens it' }).waitFor()
  await finn.page.waitForFunction(() =>
    [...document.querySelectorAll<HTMLImageElement>('#messages .attachment img')].every((i) => i.complete && i.naturalWidth > 0)
  )
  await finn.page.waitForTimeout(500)
  t.ok((await distanceFromBottom(finn.page)) < 2, `at the bottom once the images are in (${await distanceFromBottom(finn.page)} px off)`)
  t.equal(fileMetaRequests(finn), 3, 'one metadata request per attachment')
  const apiCalls = finn.requests.filter((r) => /^\/(api|auth)\//.test(new URL(r.url()).pathname)).map((r) => `${r.method()} ${new URL(r.url()).pathname}`)
  // 12 for the view itself, plus the share-link policy, the agents shared with the conversation,
  // its runs (reply labels after a reload), unread mentions and the members' presence.
  t.ok(apiCalls.length <= 17, `the whole view took ${apiCalls.length} API requests (≤ 17): ${apiCalls.join(', ')}`)

  // New messages: the same nodes stay, nothing is asked again, the reader stays at the bottom.
  await finn.page.locator('#messages .msg', { hasText: 'last text before Finn opens it' }).evaluate((el) => ((el as unknown as { mark: number }).mark = 1))
  const before = fileMetaRequests(finn)
  for (const text of ['arrival one', 'arrival two', 'arrival three']) {
    await send(erin, text)
    await finn.page.locator('#messages .msg', { hasText: text }).waitFor()
  }
  await finn.page.waitForTimeout(300)
  t.equal(fileMetaRequests(finn) - before, 0, 'no file metadata asked again for 3 new text messages')
  t.equal(
    await finn.page.locator('#messages .msg', { hasText: 'last text before Finn opens it' }).evaluate((el) => (el as unknown as { mark?: number }).mark),
    1,
    'the rows already shown were kept, not rebuilt'
  )
  t.ok((await distanceFromBottom(finn.page)) < 2, 'still at the bottom: the new messages are on screen')

  // A reader who scrolled up stays where they are.
  await finn.page.locator('#messages').evaluate((l) => (l.scrollTop = l.scrollHeight / 3))
  await finn.page.waitForTimeout(300)
  const at = await finn.page.locator('#messages').evaluate((l) => l.scrollTop)
  await send(erin, 'while Finn reads older ones')
  await finn.page.locator('#messages .msg', { hasText: 'while Finn reads older ones' }).waitFor()
  t.equal(await finn.page.locator('#messages').evaluate((l) => l.scrollTop), at, 'not pulled to the bottom')
})

await t.test('the location is kept and message actions are not a Tab stop each', async (t) => {
  const page = erin.page
  await load(page, `/#c=${conversationId}`)
  await page.getByRole('heading', { name: title }).waitFor()
  await page.locator('#messages .msg', { hasText: 'last text before Finn opens it' }).waitFor()
  await page.locator('#messages').focus()
  await page.keyboard.press('Shift+Tab')
  const first = await page.evaluate(
    () => [...document.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, [tabindex]')].find((e) => e.tabIndex >= 0)?.textContent
  )
  t.equal(first, 'Skip to message box', 'the skip link is the first Tab stop')
  await page.locator('a.skip').focus()
  await page.keyboard.press('Enter')
  t.equal(await page.evaluate(() => document.activeElement?.id), 'composer-text', 'the skip link moves focus to the message box')
  t.match(page.url(), new RegExp(`/#c=${conversationId}$`), 'and the location still names the conversation')
  await page.reload()
  await page.getByRole('heading', { name: title }).waitFor()
  t.pass('a reload reopens it')

  // From the message list to the message box, past 60 own messages with actions: a few Tabs.
  await page.locator('#messages').focus()
  await page.mouse.move(0, 0) // no message hovered
  const stops: string[] = []
  while (stops.length < 40 && (await page.evaluate(() => document.activeElement?.id)) !== 'composer-text') {
    await page.keyboard.press('Tab')
    stops.push(
      await page.evaluate(
        () => `${document.activeElement?.tagName.toLowerCase()}#${document.activeElement?.id} ${document.activeElement?.textContent?.slice(0, 20)}`
      )
    )
  }
  // Each image is a Tab stop (it opens the viewer), and focus inside a message reveals its own
  // tools, so "Add a reaction" follows each of the three images: 1 + 3 × 2 + 4 stops.
  t.ok(stops.length <= 11, `the message box is ${stops.length} Tab presses after the list: ${stops.join(' | ')}`)
  // The actions are still reachable: arrows pick a message, Tab reaches its buttons.
  await page.locator('#messages').focus()
  await page.keyboard.press('End')
  await page.keyboard.press('ArrowUp')
  const focused = await page.evaluate(() => {
    const e = document.activeElement as HTMLElement
    return `${e.tagName} ${e.querySelector('.text')?.textContent} ${getComputedStyle(e.querySelector('.actions') ?? e).display}`
  })
  t.match(focused, /^LI .+ flex$/, 'ArrowUp from the last message focuses the one before, showing its actions')
  await page.keyboard.press('Tab')
  t.equal(
    await page.evaluate(
      () => `${document.activeElement?.tagName} ${document.activeElement?.getAttribute('aria-label')} ${document.activeElement?.textContent?.slice(0, 30)}`
    ),
    'BUTTON Edit message Edit',
    'Tab reaches its Edit button'
  )
})

await t.test('Escape cancels an edit; drafts survive switching and reloading', async (t) => {
  const page = erin.page
  const msg = page.locator('#messages .msg', { hasText: 'new two' })
  await msg.hover()
  await msg.getByRole('button', { name: 'Edit message' }).click()
  await page.getByLabel('Edit message text').fill('changed my mind')
  await page.keyboard.press('Escape')
  t.equal(await page.getByLabel('Edit message text').count(), 0, 'the edit form is gone')
  t.equal(await msg.locator('.text').textContent(), 'new two', 'the text is unchanged')
  t.equal(await page.evaluate(() => document.activeElement?.closest('li')?.textContent?.includes('new two')), true, 'focus is back on the message')

  await page.getByLabel('Message', { exact: true }).fill('a draft for later')
  await page.getByLabel('New conversation').fill(`Other ${stamp}`)
  await page.getByRole('button', { name: 'Create', exact: true }).click()
  await page.getByRole('heading', { name: `Other ${stamp}` }).waitFor()
  t.equal(await page.getByLabel('Message', { exact: true }).inputValue(), '', 'another conversation has its own (empty) box')
  await page.locator('#conv-list button', { hasText: title }).click()
  await page.getByRole('heading', { name: title }).waitFor()
  t.equal(await page.getByLabel('Message', { exact: true }).inputValue(), 'a draft for later', 'the draft is back')
  await page.reload()
  await page.getByRole('heading', { name: title }).waitFor()
  await page.locator('#conn[data-state=online]').waitFor()
  t.equal(await page.getByLabel('Message', { exact: true }).inputValue(), 'a draft for later', 'also after a reload')
  await send(erin, 'sent the draft')
  await page.locator('#messages .msg:not(.pending)', { hasText: 'sent the draft' }).waitFor()
  await page.reload()
  await page.getByRole('heading', { name: title }).waitFor()
  t.equal(await page.getByLabel('Message', { exact: true }).inputValue(), '', 'a sent draft is gone')
})

await t.test('times: a day separator, the full date and time on hover and focus', async (t) => {
  const page = finn.page
  t.ok((await page.locator('#messages li.day').count()) >= 1, 'a day separator')
  t.equal(await page.locator('#messages li.day').first().textContent(), 'Today')
  const time = page.locator('#messages .msg', { hasText: 'new one' }).locator('time')
  const full = await time.getAttribute('title')
  t.match(full, /\d{4}/, `the full date on hover: ${full}`)
  t.ok(await time.locator('.full-time').isHidden(), 'not shown at rest')
  await page.locator('#messages .msg', { hasText: 'new one' }).focus()
  t.ok(await time.locator('.full-time').isVisible(), 'shown when the message has focus')
})

await t.test('the tab title counts unread messages; the dark theme follows the system', async (t) => {
  const page = finn.page
  await page.getByLabel('New conversation').fill(`Finn's own ${stamp}`)
  await page.getByRole('button', { name: 'Create', exact: true }).click()
  await page.getByRole('heading', { name: `Finn's own ${stamp}` }).waitFor()
  t.equal(await page.title(), 'Palisade', 'nothing unread')
  await send(erin, 'unread for Finn')
  await page.waitForFunction(() => document.title === '(1) Palisade')
  t.pass('(1) Palisade')
  await page.locator('#conv-list button', { hasText: title }).click()
  await page.waitForFunction(() => document.title === 'Palisade')
  t.pass('read: the count leaves the title')

  const bg = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)
  await page.emulateMedia({ colorScheme: 'light' })
  const light = await bg()
  await page.emulateMedia({ colorScheme: 'dark' })
  const dark = await bg()
  t.not(dark, light, `dark background ${dark} instead of ${light}`)
  const [r, g, b] = dark.match(/\d+/g)!.map(Number)
  t.ok(r! + g! + b! < 150, 'and it is dark')
  await page.emulateMedia({ colorScheme: 'light' })
})

await t.test('the account page follows each change', async (t) => {
  const other = await browser.newContext({ baseURL: origin })
  const o = await other.newPage()
  watch.attach(o, 'finn-2')
  await o.goto('/')
  await o.getByLabel('Email').fill(finn.email)
  await o.getByLabel('Password').fill(PASSWORD)
  await o.getByRole('button', { name: 'Sign in' }).click()
  await o.waitForURL(`${origin}/`)
  const page = finn.page
  await page.getByRole('button', { name: 'Account' }).click()
  await page.getByRole('button', { name: 'Revoke' }).first().waitFor()
  const sessions = await page.locator('#session-list li').count()
  t.ok(sessions >= 2, `${sessions} sessions listed`)
  await page.getByLabel('Current password').fill('not my password at all')
  await page.getByLabel('New password').fill(`${PASSWORD} changed`)
  await page.getByRole('button', { name: 'Change password' }).click()
  await page.locator('#pw-result').filter({ hasText: /\S/ }).waitFor()
  const wrong = await page.locator('#pw-result').textContent()
  await page.getByLabel('Current password').fill(PASSWORD)
  await page.getByLabel('New password').fill(`${PASSWORD} changed`)
  await page.getByRole('button', { name: 'Change password' }).click()
  await page.getByText('Password changed.').waitFor()
  t.notMatch(await page.locator('#settings').textContent(), wrong!, 'the earlier error is gone')
  await page.waitForFunction(() => document.querySelectorAll('#session-list li').length === 1)
  t.equal(
    await page
      .locator('#session-list li')
      .textContent()
      .then((s) => s?.startsWith('This device')),
    true,
    'only this browser is listed now'
  )
  await o.waitForURL(/\/login/, { timeout: 30_000 })
  await other.close()
})

await t.test('search: who and when, more than one page, and a hit opened in place with its context', async (t) => {
  const page = finn.page
  await page.getByLabel('Search messages').fill('filler')
  await page.getByLabel('Search messages').press('Enter')
  const results = page.locator('#search-list li[data-id]')
  await results.first().waitFor()
  t.equal(await results.count(), 20, 'a first page of 20')
  t.equal(await results.first().locator('.who').textContent(), 'Erin', 'the author by name')
  t.match(await results.first().locator('time').textContent(), /^Today \d/, 'and when')
  await page.getByRole('button', { name: 'More results' }).click()
  await page.waitForFunction(() => document.querySelectorAll('#search-list li[data-id]').length === 40)
  await page.getByRole('button', { name: 'More results' }).click()
  await page.waitForFunction(() => document.querySelectorAll('#search-list li[data-id]').length === 60)
  t.ok(await page.getByRole('button', { name: 'More results' }).isHidden(), 'all 60 found, no more to load')

  // "filler 2" is older than the newest page of 50: opening it pages back to it.
  await results
    .filter({ hasText: /^.*filler 2$/ })
    .getByRole('button')
    .click()
  const hit = page.locator('#messages .msg.hit')
  await hit.waitFor()
  t.equal(await hit.locator('.text').textContent(), 'filler 2', 'the hit is highlighted')
  t.equal(await page.evaluate(() => document.activeElement?.classList.contains('hit')), true, 'and has focus')
  const inView = await hit.evaluate((el) => {
    const r = el.getBoundingClientRect()
    const l = document.getElementById('messages')!.getBoundingClientRect()
    return r.top >= l.top && r.bottom <= l.bottom
  })
  t.ok(inView, 'on screen')
  for (const text of ['filler 1', 'filler 3', 'last text before Finn opens it'])
    t.equal(await page.locator('#messages .msg .text', { hasText: new RegExp(`^${text}$`) }).count(), 1, `context: "${text}" is loaded`)
})

await t.test('image frames are sized from stored dimensions before a byte of the image arrives', async (t) => {
  const page = finn.page
  // Hold every image body until the frames are measured: the space must come from the metadata alone.
  const held: { continue(): Promise<void> }[] = []
  await page.route('**/api/files/*/content?disposition=inline', (route) => {
    held.push(route)
  })
  await load(page, `/#c=${conversationId}`)
  await page.locator('#messages .attachment img[alt="photo-3.png"]').waitFor()
  const boxes = await page.locator('#messages .attachment.image .frame').evaluateAll((frames) =>
    frames.map((f) => {
      const img = f.querySelector('img')!
      const fr = f.getBoundingClientRect()
      const ir = img.getBoundingClientRect()
      return { alt: img.alt, loaded: img.complete && img.naturalWidth > 0, frame: [fr.width, fr.height], img: [ir.width, ir.height] }
    })
  )
  t.equal(boxes.length, 3)
  const expected: Record<string, [number, number]> = { 'photo-1.png': [224, 168], 'photo-2.png': [112, 224], 'photo-3.png': [120, 40] }
  for (const b of boxes) {
    t.notOk(b.loaded, `${b.alt}: not loaded while measured`)
    const [w, h] = expected[b.alt]!
    t.ok(Math.abs(b.frame[0]! - w) <= 1 && Math.abs(b.frame[1]! - h) <= 1, `${b.alt}: frame ${b.frame.join('×')} ≈ ${w}×${h}`)
    t.ok(Math.abs(b.img[1]! - b.frame[1]!) <= 1, `${b.alt}: the image fills its frame's height`)
  }
  for (const r of held) await r.continue()
  await page.unroute('**/api/files/*/content?disposition=inline')
  await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('#messages .attachment img')].every((i) => i.complete && i.naturalWidth > 0))
  const after = await page
    .locator('#messages .attachment.image .frame')
    .evaluateAll((frames) => frames.map((f) => [f.getBoundingClientRect().width, f.getBoundingClientRect().height]))
  t.same(
    after.map(([w, h]) => [Math.round(w!), Math.round(h!)]),
    boxes.map((b) => [Math.round(b.frame[0]!), Math.round(b.frame[1]!)]),
    'loading the images changed no frame'
  )
})

await t.test('no page of the run logged a console error or threw', async (t) => {
  t.same(watch.errors, [])
})

import t from 'tap'
import type { Page } from 'playwright-core'
import { browserSuite } from './helpers/stack.js'
import { ConsoleWatch, createConversation, newPerson, register, send } from './helpers/people.js'
import { png } from './helpers/png.js'
import { axe } from './helpers/axe.js'
import { ALLOWED_ATTRIBUTES, ALLOWED_ELEMENTS, ALLOWED_SCHEMES, HOSTILE } from './markdown-corpus.js'

/**
 * Issue 26 items 1 and 8 in Chromium against the whole stack, with two people: hostile Markdown
 * sent by one renders inert and formatted for the other, an agent's reply renders while it
 * streams, a pasted image is uploaded, the image viewer is keyboard-driven and a text file is
 * previewed as text.
 */

const { browser, origin } = await browserSuite(t)
const stamp = Date.now().toString(36)
const watch = new ConsoleWatch()
const ada = await newPerson(browser, origin, 'ada', stamp, watch)
const ben = await newPerson(browser, origin, 'ben', stamp, watch)
let conversationId = ''

/** Every element and attribute under the message texts of `page` that the allow-lists do not name. */
function disallowed(page: Page): Promise<string[]> {
  return page.evaluate(
    ({ elements, attributes, schemes }) => {
      const bad: string[] = []
      for (const el of document.querySelectorAll('#messages .msg .text *')) {
        if (!elements.includes(el.tagName)) bad.push(`element ${el.tagName}`)
        const allowed = [...attributes['*']!, ...(attributes[el.tagName] ?? [])]
        for (const a of el.attributes) if (!allowed.includes(a.name)) bad.push(`${el.tagName}[${a.name}]`)
        if (el instanceof HTMLAnchorElement && !schemes.includes(el.protocol)) bad.push(`href ${el.href.slice(0, 60)}`)
      }
      return bad
    },
    { elements: [...ALLOWED_ELEMENTS], attributes: ALLOWED_ATTRIBUTES, schemes: ALLOWED_SCHEMES }
  )
}

await t.test('setup: two people in one conversation', async () => {
  await register(ada, 'Ada')
  await register(ben, 'Ben')
  conversationId = await createConversation(ada, `Markdown ${stamp}`, [ben])
  await ben.page.goto('about:blank')
  await ben.page.goto(`/#c=${conversationId}`)
  await ben.page.getByRole('heading', { name: `Markdown ${stamp}` }).waitFor()
})

await t.test('hostile Markdown from one person renders inert and formatted for the other', async (t) => {
  const formatted = [
    `**bold ${stamp}** and *em* and ~~gone~~ and \`code\``,
    '',
    '| col | n |',
    '|-----|--:|',
    '| a   | 1 |',
    '',
    '```ts',
    'const x = 1 < 2',
    '```',
    '',
    '[safe](https://example.com/ok) [bad](javascript:alert(1)) <img src=x onerror=alert(2)>'
  ].join('\n')
  await send(ada, formatted)
  const text = ben.page.locator('#messages .msg .text.md:not(.plain)', { hasText: `bold ${stamp}` })
  await text.waitFor()
  t.equal(await text.locator('strong').textContent(), `bold ${stamp}`, 'bold')
  t.equal(await text.locator('em').textContent(), 'em')
  t.equal(await text.locator('s').textContent(), 'gone')
  t.equal(await text.locator('table td').first().textContent(), 'a', 'a table')
  t.equal(await text.locator('pre code').textContent(), 'const x = 1 < 2\n', 'a code block')
  const links = text.locator('a')
  t.equal(await links.count(), 1, 'only the https link is a link')
  t.same(await links.evaluate((a) => [a.getAttribute('href'), a.getAttribute('rel'), a.getAttribute('target')]), [
    'https://example.com/ok',
    'noopener noreferrer',
    '_blank'
  ])
  t.match(await text.textContent(), '[bad](javascript:alert(1)) <img src=x onerror=alert(2)>', 'the rest is text')

  // The corpus, as messages (those that fit one): through chat, the gateway and the other browser.
  const sendable = HOSTILE.filter((h) => h.source.length <= 600 && /\S/.test(h.source))
  for (const [i, h] of sendable.entries()) {
    const r = await ada.page.evaluate(
      async ({ id, text }) =>
        (
          await fetch(`/api/chat/conversations/${id}/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ text, clientMessageId: crypto.randomUUID() })
          })
        ).status,
      { id: conversationId, text: `${h.source}\n\nhostile ${i} ${stamp}` }
    )
    t.equal(r, 201, `sent: ${h.name}`)
  }
  await ben.page.locator('#messages .msg .text.md:not(.plain)', { hasText: `hostile ${sendable.length - 1} ${stamp}` }).waitFor()
  await ben.page.waitForTimeout(500)
  t.ok(sendable.length >= 50, `${sendable.length} hostile messages`)
  t.same(await disallowed(ben.page), [], 'nothing but allow-listed elements and attributes, links only to http/https/mailto')
  t.same(ben.dialogs, [], 'no script ran')
  t.same(
    ben.requests.map((r) => new URL(r.url())).filter((u) => u.origin !== origin),
    [],
    'nothing fetched from elsewhere'
  )
  t.same(await axe(ben.page, 'rendered Markdown'), [], 'no accessibility violation')
})

await t.test('a code block copies its code', async (t) => {
  await ben.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin })
  const block = ben.page.locator('#messages .code-block', { hasText: 'const x = 1 < 2' })
  await block.getByRole('button', { name: 'Copy ts code' }).click()
  await block.getByRole('button', { name: 'Copy ts code' }).filter({ hasText: 'Copied' }).waitFor()
  t.equal(await ben.page.evaluate(() => navigator.clipboard.readText()), 'const x = 1 < 2\n')
})

await t.test("an agent's reply renders Markdown while it streams", async (t) => {
  // The local provider echoes the prompt word by word; @slow spaces the words out.
  await ada.page
    .getByLabel('Message', { exact: true })
    .fill(`@slow 150\n**loud ${stamp}** then \`code\` then [x](javascript:alert(1)) and more words to stream`)
  await ada.page.getByRole('button', { name: 'Run agent on message box' }).click()
  const streaming = ada.page.locator('#messages .msg.agent.streaming .text')
  await streaming.locator('strong', { hasText: `loud ${stamp}` }).waitFor({ timeout: 60_000 })
  t.ok(await ada.page.locator('#messages .msg.agent.streaming').count(), 'formatted while still streaming')
  const done = ben.page.locator('#messages .msg.agent[data-id] .text', { hasText: 'more words to stream' })
  await done.waitFor({ timeout: 60_000 })
  t.equal(await done.locator('strong').textContent(), `loud ${stamp}`, 'the stored reply renders the same way')
  t.equal(await done.locator('a').count(), 0, 'a javascript: link in a reply is text')
  t.same(await disallowed(ada.page), [])
})

await t.test('pasting an image into the message box uploads it', async (t) => {
  const paste = (b64: string) =>
    ada.page.getByLabel('Message', { exact: true }).evaluate((box, b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
      const dt = new DataTransfer()
      dt.items.add(new File([bytes], 'image.png', { type: 'image/png' }))
      box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }))
    }, b64)
  await paste(png(40, 30).toString('base64'))
  await ben.page.locator('#messages .attachment.image img[alt^="Pasted image"]').waitFor()
  await ada.page.waitForTimeout(1100) // a second later: another name
  await paste(png(30, 60).toString('base64'))
  await ben.page.locator('#messages .attachment.image img[alt^="Pasted image"]').nth(1).waitFor()
  t.equal(await ada.page.getByLabel('Message', { exact: true }).inputValue(), '', 'nothing was pasted as text')
  const names = await ben.page.locator('#messages .attachment.image img').evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).alt))
  t.equal(names.length, 2)
  t.not(names[0], names[1], 'each paste has its own name')

  // A paste that carries text pastes the text and uploads nothing.
  await ada.page.getByLabel('Message', { exact: true }).evaluate((box) => {
    const dt = new DataTransfer()
    dt.setData('text/plain', 'just text')
    dt.items.add(new File([new Uint8Array([1])], 'image.png', { type: 'image/png' }))
    const ev = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true })
    box.dispatchEvent(ev)
    ;(box as HTMLElement).dataset.pasteHandled = String(ev.defaultPrevented)
  })
  t.equal(await ada.page.getByLabel('Message', { exact: true }).getAttribute('data-paste-handled'), 'false', 'a text paste is left to the browser')
})

await t.test('the image viewer: full size, arrows, Escape, focus trapped and restored', async (t) => {
  const page = ben.page
  const buttons = page.locator('#messages .attachment.image button.image-open')
  const names = await page.locator('#messages .attachment.image img').evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).alt))
  await buttons.first().focus()
  await page.keyboard.press('Enter')
  await page.getByRole('dialog', { name: names[0] }).waitFor()
  const viewer = page.locator('dialog.image-viewer')
  t.equal(await viewer.locator('.position').textContent(), '1 of 2')
  await page.waitForFunction(() => (document.querySelector('.image-viewer img') as HTMLImageElement).naturalWidth === 40)
  t.pass('the image at its full resolution')
  await page.keyboard.press('ArrowRight')
  await page.getByRole('dialog', { name: names[1] }).waitFor()
  t.equal(await viewer.locator('.position').textContent(), '2 of 2', 'ArrowRight: the next image')
  await page.keyboard.press('ArrowRight')
  await page.getByRole('dialog', { name: names[0] }).waitFor()
  t.pass('and round to the first')
  await page.keyboard.press('ArrowLeft')
  await page.getByRole('dialog', { name: names[1] }).waitFor()
  t.pass('ArrowLeft: back')
  await viewer.getByRole('button', { name: `Share ${names[1]}` }).waitFor()
  t.pass("the shown image's Share is in the viewer")
  t.equal(await page.locator('#messages .attachment.image button.share').count(), 0, 'and not a Tab stop per image in the list')
  for (let i = 0; i < 8; i++) {
    await page.keyboard.press(i % 3 === 2 ? 'Shift+Tab' : 'Tab')
    t.ok(await page.evaluate(() => document.activeElement?.closest('dialog.image-viewer') !== null), `focus stays in the viewer (${i + 1})`)
  }
  t.same(await axe(page, 'image viewer'), [], 'no accessibility violation')
  await page.getByRole('button', { name: 'Actual size' }).click()
  t.equal(await page.getByRole('button', { name: 'Actual size' }).getAttribute('aria-pressed'), 'true', 'actual size on request')
  await page.keyboard.press('Escape')
  await viewer.waitFor({ state: 'hidden' })
  t.ok(await buttons.first().evaluate((b) => b === document.activeElement), 'Escape closes and focus goes back to the image it came from')
})

await t.test('a text file is previewed as text', async (t) => {
  const body = `# not a heading ${stamp}\n<b>not bold</b> <script>alert(1)</script>\n`
  await ada.page.locator('#file-input').setInputFiles({ name: `notes-${stamp}.txt`, mimeType: 'text/plain', buffer: Buffer.from(body) })
  const toggle = ben.page.getByRole('button', { name: `Preview notes-${stamp}.txt` })
  // By keyboard: the list may still scroll to its bottom as the new message settles, and a pointer
  // click aimed before that lands on moved content.
  await toggle.focus()
  await ben.page.keyboard.press('Enter')
  const preview = ben.page.getByRole('region', { name: `Preview of notes-${stamp}.txt` })
  await preview.waitFor()
  await ben.page.waitForFunction((el) => el?.textContent !== 'loading…', await preview.elementHandle())
  t.equal(await preview.textContent(), body, 'the bytes, as text')
  t.equal(await preview.locator('*').count(), 0, 'no element made from it')
  t.equal(await toggle.getAttribute('aria-expanded'), 'true')
  t.same(await axe(ben.page, 'text preview'), [], 'no accessibility violation')
  await toggle.focus()
  await ben.page.keyboard.press('Enter')
  t.ok(await preview.isHidden(), 'the button hides it again')
})

await t.test('no console error or uncaught exception on any page', async (t) => {
  t.same(watch.errors, [])
})

/**
 * The web client's Markdown renderer in Chromium (issue 26 item 1): hostile input renders inert —
 * only allow-listed elements and attributes, links only to http/https/mailto, no script run, no
 * request made — ordinary Markdown renders formatted, and a streaming reply keeps its completed
 * blocks' nodes while its tail changes.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { markdownPage } from '@palisade/scripts/markdown-page'
import { CHROMIUM, launchChromium } from './helpers/stack.js'
import { ALLOWED_ATTRIBUTES, ALLOWED_ELEMENTS, ALLOWED_SCHEMES, HOSTILE } from './markdown-corpus.js'

declare global {
  interface Window {
    /** markdown-render.ts, as scripts/src/markdown-page.ts loads it */
    palisadeMarkdown: { renderMarkdown(source: string, into: HTMLElement, previous?: unknown): unknown }
  }
}

interface Built {
  elements: { tag: string; attrs: [string, string][]; protocol?: string }[]
  text: string
  /** interactive elements inside others (a link in a link) */
  nested: number
}

if (!existsSync(CHROMIUM)) {
  t.skip(`no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`)
  process.exit(0)
}

const browser = await launchChromium()
t.teardown(() => browser.close())
const page = await markdownPage(browser)
const requests: string[] = []
const dialogs: string[] = []
const errors: string[] = []
page.on('request', (r) => requests.push(r.url()))
page.on('dialog', (d) => {
  dialogs.push(d.message())
  void d.dismiss()
})
page.on('pageerror', (e) => errors.push(e.message))

/** Renders `source` into a fresh element in the page and reports every element and attribute built. */
function render(source: string): Promise<Built> {
  return page.evaluate((src) => {
    const root = document.createElement('div')
    document.body.replaceChildren(root)
    window.palisadeMarkdown.renderMarkdown(src, root)
    const elements = [...root.querySelectorAll('*')].map((el) => ({
      tag: el.tagName,
      attrs: [...el.attributes].map((a) => [a.name, a.value] as [string, string]),
      ...(el instanceof HTMLAnchorElement ? { protocol: el.protocol } : {})
    }))
    return { elements, text: root.textContent ?? '', nested: root.querySelectorAll('a a, button button, a button').length }
  }, source)
}

t.test(`${HOSTILE.length} hostile inputs render inert`, async (t) => {
  t.ok(HOSTILE.length >= 50, 'at least 50 of them')
  for (const { name, source } of HOSTILE) {
    const built = await render(source)
    const bad: string[] = []
    for (const el of built.elements) {
      if (!ALLOWED_ELEMENTS.has(el.tag)) bad.push(`element ${el.tag}`)
      const allowed = [...ALLOWED_ATTRIBUTES['*']!, ...(ALLOWED_ATTRIBUTES[el.tag] ?? [])]
      for (const [attr, value] of el.attrs) if (!allowed.includes(attr)) bad.push(`${el.tag}[${attr}=${value.slice(0, 40)}]`)
      if (el.tag === 'A') {
        const attrs = Object.fromEntries(el.attrs)
        if (!ALLOWED_SCHEMES.includes(el.protocol ?? '')) bad.push(`href ${attrs.href?.slice(0, 60)}`)
        if (attrs.rel !== 'noopener noreferrer' || attrs.target !== '_blank') bad.push('a link without rel/target')
      }
    }
    if (built.nested) bad.push(`${built.nested} interactive elements nested in others`)
    t.same(bad, [], name)
  }
  // Give anything that slipped through (an onerror, a meta refresh) the time to act.
  await page.waitForTimeout(300)
  t.same(dialogs, [], 'no script ran')
  t.same(errors, [], 'no error in the page')
  t.same(requests, [], 'nothing was fetched: no remote image, no stylesheet, no frame')
})

t.test('what the hostile inputs become', async (t) => {
  const js = await render('[click](javascript:alert(1))')
  t.equal(js.elements.filter((e) => e.tag === 'A').length, 0, 'a javascript: link is no link')
  t.equal(js.text, '[click](javascript:alert(1))', 'its source stays as text')
  const script = await render('<script>alert(1)</script> and <img src=x onerror=alert(1)>')
  t.equal(script.text, '<script>alert(1)</script> and <img src=x onerror=alert(1)>', 'raw HTML renders as its text')
  const image = await render('![tracker](https://evil.example/pixel.png)')
  t.same(
    image.elements.map((e) => e.tag),
    ['P', 'A'],
    'an image is a link to it'
  )
  t.equal(image.text, 'tracker')
  const linked = await render('[![x](https://evil.example/p.png)](https://ok.example)')
  t.same(
    linked.elements.map((e) => [e.tag, Object.fromEntries(e.attrs).href]),
    [
      ['P', undefined],
      ['A', 'https://ok.example']
    ],
    'an image inside a link is its text'
  )
  const deep = await render(`${'>'.repeat(2000)} deep`)
  t.match(deep.text, /deep$/, 'nothing is lost to nesting')
  const entity = await render('&lt;b&gt; &amp; &#x202E;')
  t.equal(entity.text, '<b> & \u202e', 'entities decode to text, never to markup')
})

t.test('ordinary Markdown renders formatted', async (t) => {
  const src = [
    '# Title',
    '',
    'Some *emphasis*, **strong**, ~~gone~~, `code` and a [link](https://example.com/a?b=1) and https://auto.example.org.',
    'next line',
    '',
    '- one',
    '- two',
    '',
    '3. three',
    '4. four',
    '',
    '> quoted',
    '',
    '| left | right |',
    '|:-----|------:|',
    '| a | b |',
    '',
    '```ts',
    'const x = 1 < 2',
    '```',
    '',
    'write to <mail@example.com>'
  ].join('\n')
  const built = await render(src)
  const tags = built.elements.map((e) => e.tag)
  for (const tag of ['H3', 'EM', 'STRONG', 'S', 'CODE', 'UL', 'OL', 'LI', 'BLOCKQUOTE', 'TABLE', 'TH', 'TD', 'PRE', 'BUTTON', 'BR'])
    t.ok(tags.includes(tag), tag)
  const hrefs = built.elements.filter((e) => e.tag === 'A').map((e) => Object.fromEntries(e.attrs).href)
  t.same(hrefs, ['https://example.com/a?b=1', 'https://auto.example.org', 'mailto:mail@example.com'], 'links, autolinks and mail links')
  t.same(Object.fromEntries(built.elements.find((e) => e.tag === 'OL')!.attrs), { start: '3' }, 'an ordered list keeps its start')
  t.same(
    Object.fromEntries(built.elements.find((e) => e.tag === 'BUTTON')!.attrs),
    { type: 'button', class: 'copy-code', 'aria-label': 'Copy ts code' },
    'code has a labelled copy button'
  )
  t.same(
    built.elements.filter((e) => e.tag === 'TH').map((e) => Object.fromEntries(e.attrs).class),
    ['align-left', 'align-right'],
    'alignment by class (the CSP forbids style attributes)'
  )
})

t.test('a streaming reply re-renders its tail and keeps its completed blocks', async (t) => {
  const kept = await page.evaluate(() => {
    const root = document.createElement('div')
    document.body.replaceChildren(root)
    const md = window.palisadeMarkdown
    let state = md.renderMarkdown('First paragraph.\n\n```js\nlet a', root)
    const first = root.firstChild
    state = md.renderMarkdown('First paragraph.\n\n```js\nlet a = 1\n```\n\nThird', root, state)
    const code = root.children[1]
    state = md.renderMarkdown('First paragraph.\n\n```js\nlet a = 1\n```\n\nThird *block* grows', root, state)
    return {
      firstKept: root.firstChild === first,
      codeKept: root.children[1] === code,
      count: root.children.length,
      last: root.lastElementChild?.textContent
    }
  })
  t.same(kept, { firstKept: true, codeKept: true, count: 3, last: 'Third block grows' })
  const href = await page.evaluate(() => {
    const root = document.createElement('div')
    document.body.replaceChildren(root)
    const md = window.palisadeMarkdown
    const state = md.renderMarkdown('See [docs].\n\n[docs]: https://a.example', root)
    md.renderMarkdown('See [docs].\n\n[docs]: https://b.example', root, state)
    return root.querySelector('a')?.getAttribute('href')
  })
  t.equal(href, 'https://b.example', 'a reference defined later re-renders the blocks that use it')
})

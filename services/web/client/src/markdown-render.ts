/**
 * Markdown to DOM (issue 26 item 1): CommonMark and the GitHub extensions (tables, strikethrough,
 * autolinks) parsed by markdown-it into its token stream, and elements built from the tokens with
 * createElement and text nodes. No HTML string is produced or parsed: raw HTML in the source is not
 * recognised (`html: false`) and stays text, every element comes from the allow-list below, links
 * only carry http, https or mailto (checked by the parser and again on the built element), and
 * images become links (attachments are the only images). Its own chunk: markdown.ts loads it after
 * the first paint and shows plain text until then.
 */
import MarkdownIt, { type Env, type Token } from 'markdown-it'
import { h } from './dom.js'

/** The schemes a link may have; anything else is text (markdown-it leaves an invalid link's source as it is). */
const SCHEMES = new Set(['http:', 'https:', 'mailto:'])
/** An image's address becomes a link only on the web. */
const IMAGE_SCHEMES = new Set(['http:', 'https:'])

function allowedUrl(url: string, schemes: ReadonlySet<string> = SCHEMES): boolean {
  // An explicit scheme only: a relative link would point into Palisade itself.
  if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) return false
  try {
    return schemes.has(new URL(url).protocol)
  } catch {
    return false
  }
}

/**
 * markdown-it drops block content nested deeper than this (quotes in lists in quotes…), so a
 * message that reaches it is shown as its plain text instead of losing a part.
 */
const MAX_NESTING = 32

const md = new MarkdownIt('default', {
  html: false,
  linkify: true,
  // Chat: a single newline is a line break, as people type it.
  breaks: true,
  typographer: false,
  maxNesting: MAX_NESTING
})
md.validateLink = (url) => allowedUrl(url)

/** Block and inline containers: token type (without _open/_close) to element. Headings shift down two levels: h1 is the page's. */
const CONTAINERS: Record<string, (t: Token) => HTMLElement> = {
  paragraph: () => h('p'),
  heading: (t) => h(`h${Math.min(6, Number(t.tag.slice(1)) + 2)}` as 'h3', { class: 'md-heading' }),
  blockquote: () => h('blockquote'),
  bullet_list: () => h('ul'),
  ordered_list: (t) => {
    const start = Number(attr(t, 'start') || 1)
    return Number.isSafeInteger(start) && start !== 1 ? h('ol', { start }) : h('ol')
  },
  list_item: () => h('li'),
  table: () => h('table'),
  thead: () => h('thead'),
  tbody: () => h('tbody'),
  tr: () => h('tr'),
  th: (t) => cell('th', t),
  td: (t) => cell('td', t),
  em: () => h('em'),
  strong: () => h('strong'),
  s: () => h('s'),
  link: (t) => link(attr(t, 'href'))
}

function attr(t: Token, name: string): string {
  return String(t.attrGet(name) ?? '')
}

/** markdown-it aligns cells with a style attribute, which the CSP forbids: a class instead. */
function cell(tag: 'th' | 'td', t: Token): HTMLElement {
  const align = /^text-align:(left|center|right)$/.exec(attr(t, 'style'))?.[1]
  return h(tag, align ? { class: `align-${align}` } : {})
}

/** A link, or a plain span when the browser reads its address otherwise than the parser did. */
function link(href: string): HTMLElement {
  const a = h('a', { href, rel: 'noopener noreferrer', target: '_blank' })
  return SCHEMES.has(a.protocol) ? a : h('span')
}

async function copyCode(code: string, button: HTMLButtonElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(code)
    button.textContent = 'Copied'
  } catch {
    button.textContent = 'Copy failed'
  }
  setTimeout(() => (button.textContent = 'Copy'), 2000)
}

function codeBlock(code: string, info: string): HTMLElement {
  const lang = info.trim().split(/\s/, 1)[0]!.slice(0, 40)
  const copy = h('button', { type: 'button', class: 'copy-code', textContent: 'Copy', attrs: { 'aria-label': lang ? `Copy ${lang} code` : 'Copy code' } })
  copy.addEventListener('click', () => void copyCode(code, copy))
  return h(
    'div',
    { class: 'code-block' },
    h('div', { class: 'code-head' }, h('span', { class: 'code-lang', textContent: lang }), copy),
    h('pre', {}, h('code', { textContent: code }))
  )
}

/** The text a token stands for when it is not rendered as an element. */
function leaf(t: Token, inLink: boolean): Node {
  switch (t.type) {
    case 'softbreak':
    case 'hardbreak':
      return h('br')
    case 'code_inline':
      return h('code', { textContent: t.content })
    case 'fence':
      return codeBlock(t.content, t.info)
    case 'code_block':
      return codeBlock(t.content, '')
    case 'hr':
      return h('hr')
    case 'image': {
      // No remote images: the picture's address as a link, labelled with its description.
      const src = attr(t, 'src')
      const label = t.content || src
      // Inside a link it is the link's text: no link within a link.
      if (inLink || !allowedUrl(src, IMAGE_SCHEMES)) return document.createTextNode(label)
      const a = link(src)
      a.className = 'md-image-link'
      a.textContent = label
      return a
    }
    default:
      // text, text_special, and anything this list does not know: its content as text
      return document.createTextNode(t.content)
  }
}

/** Builds tokens (a balanced run) under `root`, keeping a stack of open containers. */
function build(tokens: Token[], root: Node): void {
  const stack: Node[] = [root]
  for (const t of tokens) {
    const parent = stack[stack.length - 1]!
    if (t.nesting === 1) {
      // A tight list's paragraphs are hidden: their content goes straight into the item.
      const make = t.hidden ? undefined : CONTAINERS[t.type.slice(0, -'_open'.length)]
      const el = make ? make(t) : parent
      if (el !== parent) parent.appendChild(el)
      // Tables scroll on their own rather than widening the message.
      if (t.type === 'table_open') {
        const wrap = h('div', { class: 'table-wrap' })
        parent.replaceChild(wrap, el)
        wrap.append(el)
      }
      stack.push(el)
    } else if (t.nesting === -1) {
      if (stack.length > 1) stack.pop()
    } else if (t.type === 'inline') {
      build(t.children ?? [], parent)
    } else {
      const inLink = stack.some((n) => n instanceof HTMLAnchorElement)
      parent.appendChild(leaf(t, inLink))
    }
  }
}

/** What is on screen for each top-level block, by the source it came from. */
export interface Rendered {
  blocks: { key: string; node: Node }[]
}

/**
 * Renders `source` into `into`, reusing the nodes of `previous` (what this function last put there)
 * for top-level blocks whose source and context did not change: a streaming reply re-renders its
 * tail and leaves completed blocks (and their copy buttons) alone.
 */
export function renderMarkdown(source: string, into: HTMLElement, previous?: Rendered): Rendered {
  const env: Env = {}
  const tokens = md.parse(source, env)
  if (tokens.some((t) => t.level >= MAX_NESTING - 1)) {
    // Shown as its plain text (line breaks kept by the stylesheet's pre-wrap).
    const node = h('p', { textContent: source })
    into.replaceChildren(node)
    return { blocks: [{ key: `\u0000plain\u0000${source}`, node }] }
  }
  const lines = source.split('\n')
  // A reference definition can turn text anywhere into a link: another set of them renders everything anew.
  const context = JSON.stringify(env.references ?? {})
  const blocks: Rendered['blocks'] = []
  const old = previous?.blocks ?? []
  if (!previous) into.replaceChildren()
  let start = 0
  let depth = 0
  for (let i = 0; i < tokens.length; i++) {
    depth += tokens[i]!.nesting
    if (depth !== 0) continue
    const group = tokens.slice(start, i + 1)
    const map = group[0]!.map
    const key = `${context}\u0000${map ? lines.slice(map[0], map[1]).join('\n') : ''}\u0000${group.length}`
    const k = blocks.length
    if (old[k]?.key === key) {
      blocks.push(old[k]!)
    } else {
      const frag = document.createDocumentFragment()
      build(group, frag)
      const node = frag.childNodes.length === 1 ? frag.firstChild! : h('div', {}, frag)
      if (old[k]) into.replaceChild(node, old[k]!.node)
      else into.appendChild(node)
      blocks.push({ key, node })
    }
    start = i + 1
  }
  for (const b of old.slice(blocks.length)) b.node.parentNode?.removeChild(b.node)
  return { blocks }
}

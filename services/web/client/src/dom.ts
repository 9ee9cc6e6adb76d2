/**
 * The only way the app builds DOM: elements with properties and text children. No HTML-parsing
 * sink is used anywhere in the client (a test greps for them) and none can be passed as a
 * property here, so user data (messages, file names, titles) is always a text node.
 */
type Child = Node | string | null | undefined | false
type Props<K extends keyof HTMLElementTagNameMap> = Partial<Omit<HTMLElementTagNameMap[K], 'style' | 'children' | 'innerHTML' | 'outerHTML' | 'srcdoc'>> & {
  class?: string
  attrs?: Record<string, string>
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props<K> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  const { class: cls, attrs, ...rest } = props
  if (cls) el.className = cls
  Object.assign(el, rest)
  if (attrs) for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v)
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c)
  return el
}

export function $(selector: string): HTMLElement {
  const el = document.querySelector<HTMLElement>(selector)
  if (!el) throw new Error(`missing ${selector}`)
  return el
}

export function clear(el: Element): void {
  el.replaceChildren()
}

export function announce(text: string): void {
  const live = document.getElementById('status')
  if (live) live.textContent = text
}

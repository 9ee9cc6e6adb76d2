/**
 * Message and agent-reply text as Markdown. The renderer and its parser (markdown-render.ts) are a
 * chunk of their own, fetched when the first message is shown: until it arrives a text is its plain
 * text (textContent), then it is rendered in place. A streaming reply is re-rendered at most once
 * per animation frame, and only its changed tail is rebuilt.
 */
import './markdown.css'
import type { Rendered } from './markdown-render.js'

type Renderer = typeof import('./markdown-render.js')

let renderer: Renderer | undefined
let loading: Promise<Renderer> | undefined

export function loadMarkdown(): Promise<Renderer> {
  if (!loading) {
    loading = import('./markdown-render.js').then((r) => (renderer = r))
    // A failed fetch (offline) is tried again by the next text shown; until then texts stay plain.
    loading.catch(() => (loading = undefined))
  }
  return loading
}

const rendered = new WeakMap<HTMLElement, Rendered>()
const latest = new WeakMap<HTMLElement, { text: string; done: () => void }>()
const scheduled = new WeakSet<HTMLElement>()

function draw(el: HTMLElement, r: Renderer, text: string): void {
  rendered.set(el, r.renderMarkdown(text, el, rendered.get(el)))
  el.classList.remove('plain')
}

function plain(el: HTMLElement, text: string): void {
  rendered.delete(el)
  el.textContent = text
  el.classList.add('plain')
}

/**
 * The text of a message: rendered at once when the renderer is here, otherwise plain now and
 * rendered when it arrives (`grew` then tells the list its height changed).
 */
export function markdownView(text: string, grew: () => void = () => {}): HTMLElement {
  const el = document.createElement('div')
  el.className = 'text md'
  if (renderer) {
    draw(el, renderer, text)
    return el
  }
  plain(el, text)
  void loadMarkdown()
    .then((r) => {
      draw(el, r, text)
      grew()
    })
    .catch(() => {})
  return el
}

/** A streaming text grew to `text`: re-rendered on the next frame (several deltas in one frame render once). */
export function streamMarkdown(el: HTMLElement, text: string, done: () => void): void {
  latest.set(el, { text, done })
  if (scheduled.has(el)) return
  scheduled.add(el)
  requestAnimationFrame(() => settleMarkdown(el))
}

/** Renders a streaming text's latest state now (its stream ended): what is read next is final. */
export function settleMarkdown(el: HTMLElement): void {
  if (!scheduled.delete(el)) return
  const next = latest.get(el)!
  if (renderer) {
    draw(el, renderer, next.text)
  } else {
    plain(el, next.text)
    void loadMarkdown()
      .then(() => {
        // the latest text by then, not this one: deltas may have arrived while the chunk loaded
        const now = latest.get(el)!
        streamMarkdown(el, now.text, now.done)
      })
      .catch(() => {})
  }
  next.done()
}

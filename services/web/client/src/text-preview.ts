/**
 * A plain-text preview of a text attachment (issue 26 item 8): its first PREVIEW_BYTES fetched with a
 * Range request, decoded as UTF-8 and shown as text (textContent in a <pre>), never interpreted:
 * a Markdown or HTML file shows its source. A "Preview" button toggles it below the file's link.
 */
import type { FileMeta } from '@palisade/contracts'
import './text-preview.css'
import { h } from './dom.js'

export const PREVIEW_BYTES = 64 * 1024
/** Files whose preview is open, by id: kept across redraws of their message. */
const opened = new Set<string>()

/** Text types the files service takes (services/files/src/upload/sniff.ts), and JSON. */
export function previewable(f: Pick<FileMeta, 'type'>): boolean {
  return f.type.startsWith('text/') || f.type === 'application/json'
}

async function firstBytes(f: FileMeta): Promise<string> {
  const r = await fetch(`/api/files/${f.id}/content`, { headers: { range: `bytes=0-${PREVIEW_BYTES - 1}` } })
  if (r.status !== 200 && r.status !== 206) throw new Error(`${r.status}`)
  const bytes = new Uint8Array(await r.arrayBuffer()).subarray(0, PREVIEW_BYTES)
  // A cut in the middle of a character decodes to U+FFFD at the end: dropped, not shown.
  const text = new TextDecoder('utf-8').decode(bytes)
  return f.size > PREVIEW_BYTES ? text.replace(/\uFFFD+$/, '') : text
}

/** The button and the (initially hidden) preview it shows, for a text attachment. */
export function textPreview(f: FileMeta, grew: () => void): { button: HTMLElement; panel: HTMLElement } {
  const id = `preview-${f.id}`
  const pre = h('pre', { class: 'text-preview', id, hidden: true, tabIndex: 0, attrs: { role: 'region', 'aria-label': `Preview of ${f.name}` } })
  const button = h('button', {
    type: 'button',
    class: 'preview-toggle',
    textContent: 'Preview',
    attrs: { 'aria-expanded': 'false', 'aria-controls': id, 'aria-label': `Preview ${f.name}` }
  })
  let loaded = false
  const toggle = (open: boolean): void => {
    pre.hidden = !open
    button.setAttribute('aria-expanded', String(open))
    if (open) opened.add(f.id)
    else opened.delete(f.id)
    if (!open || loaded) return grew()
    loaded = true
    pre.textContent = 'loading…'
    void firstBytes(f)
      .then((text) => {
        pre.textContent = text
        if (f.size > PREVIEW_BYTES)
          pre.append(h('span', { class: 'meta', textContent: `\n… the first ${PREVIEW_BYTES / 1024} KiB of ${Math.ceil(f.size / 1024)} KiB` }))
      })
      .catch(() => {
        loaded = false
        pre.textContent = 'The preview could not be loaded.'
      })
      .finally(grew)
  }
  button.addEventListener('click', () => toggle(pre.hidden))
  // The message list redraws a row when its message changes: an open preview stays open.
  if (opened.has(f.id)) toggle(true)
  return { button, panel: pre }
}

/**
 * A message's attachment, drawn from its metadata and redrawn in place when its malware scan ends
 * (the `file.scanned` frame): a file waiting for the scan or found infected is named with its state
 * and offers no link (the files service refuses its content anyway, 409); a clean or unscanned one
 * is an image in its frame (opening the viewer) or a download link (with a preview for text),
 * with a Share action where links are allowed.
 */
import type { FileMeta, FileScannedEvent } from '@palisade/contracts'
import { h } from './dom.js'
import { fileMeta, rememberFileMeta } from './file-meta.js'
import { imageFrame } from './image-frame.js'
import { openImage } from './image-viewer.js'
import { previewable, textPreview } from './text-preview.js'
import { shareButton } from './share-action.js'

/** What the element needs to be redrawn: called when an image loads (the list may need to stay at its bottom). */
const grewOf = new WeakMap<HTMLElement, () => void>()

const STATE_TEXT: Partial<Record<FileMeta['status'], string>> = {
  pending: 'waiting for the malware scan',
  infected: 'blocked: malware was found in it'
}

/** Like a message's actions: shown on hover or focus only, so not a Tab stop per attachment. */
function shareAction(f: FileMeta): HTMLElement {
  return h('span', { class: 'actions' }, shareButton({ kind: 'file', fileId: f.id, name: f.name }))
}

function draw(el: HTMLElement, f: FileMeta): void {
  const grew = grewOf.get(el) ?? (() => {})
  el.className = 'attachment'
  el.dataset.status = f.status
  const state = STATE_TEXT[f.status]
  const url = `/api/files/${f.id}/content`
  if (state) {
    el.classList.add('held')
    el.replaceChildren(h('span', { textContent: f.name }), h('span', { class: 'meta', textContent: ` · ${state}` }))
  } else if (f.type.startsWith('image/') && f.type !== 'image/svg+xml') {
    const link = h('a', { href: `${url}?disposition=attachment`, textContent: f.name, attrs: { download: f.name } })
    // The frame's size is known before the image arrives (image-frame.ts): nothing moves the list.
    el.classList.add('image')
    // One Tab stop per image: the viewer it opens has the download too.
    link.tabIndex = -1
    const open = h(
      'button',
      { type: 'button', class: 'image-open', attrs: { 'aria-label': `View ${f.name}` } },
      imageFrame(f, `${url}?disposition=inline`, grew)
    )
    open.addEventListener('click', () => openImage(f.id, open))
    // Its Share is in the viewer (image-viewer.ts): one Tab stop per image in the list.
    el.replaceChildren(open, link)
  } else {
    const link = h('a', { href: `${url}?disposition=attachment`, textContent: f.name, attrs: { download: f.name } })
    const size = h('span', { class: 'meta', textContent: ` ${Math.ceil(f.size / 1024)} KiB` })
    // Preview before Share: the actions appear on hover and must not move the button being aimed at.
    const preview = previewable(f) ? textPreview(f, grew) : undefined
    el.replaceChildren(link, size, ...(preview ? [preview.button, shareAction(f), preview.panel] : [shareAction(f)]))
  }
  grew()
}

export function attachmentView(fileId: string, grew: () => void): HTMLElement {
  const el = h('span', { class: 'attachment loading', attrs: { 'data-file-id': fileId } }, h('span', { textContent: 'file…' }))
  grewOf.set(el, grew)
  void fileMeta(fileId)
    .then((f) => draw(el, f))
    .catch(() => {
      el.classList.remove('loading')
      el.replaceChildren(h('span', { textContent: 'file unavailable' }))
    })
  return el
}

/** A scan ended: the cached metadata and every attachment showing the file change in place. */
export function fileScanned(e: FileScannedEvent): void {
  void fileMeta(e.fileId)
    .then((f) => {
      const updated: FileMeta = { ...f, status: e.status }
      rememberFileMeta(updated)
      for (const el of document.querySelectorAll<HTMLElement>('.attachment[data-file-id]')) if (el.dataset.fileId === e.fileId) draw(el, updated)
    })
    .catch(() => {})
}

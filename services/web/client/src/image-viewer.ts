/**
 * The image viewer (issue 26 item 8): an image attachment opened over the page, fitted to the window
 * or at its full size (click the image or "Actual size"), Left/Right to the previous or next image
 * of the conversation (in the order of the list), Escape closes. A modal <dialog>: the page behind
 * is inert, Tab cycles within the viewer, and focus returns to the image it was opened from.
 */
import './image-viewer.css'
import { h } from './dom.js'
import { shareButton } from './share-action.js'

interface Shown {
  fileId: string
  name: string
}

const title = h('h2', { id: 'image-viewer-title' })
const position = h('span', { class: 'position' })
const img = h('img', { alt: '', decoding: 'async' })
const download = h('a', { textContent: 'Download' })
/** An image's Share lives here, not beside it in the list, where it would be a Tab stop per image. */
const share = h('span', { class: 'viewer-share' })
const size = h('button', { type: 'button', textContent: 'Actual size', attrs: { 'aria-pressed': 'false' } })
const prev = h('button', { type: 'button', textContent: '←', attrs: { 'aria-label': 'Previous image' } })
const next = h('button', { type: 'button', textContent: '→', attrs: { 'aria-label': 'Next image' } })
const close = h('button', { type: 'button', textContent: 'Close', attrs: { 'aria-label': 'Close the image viewer' } })
const stage = h('div', { class: 'stage' }, img)
const dialog = h(
  'dialog',
  { class: 'image-viewer', attrs: { 'aria-labelledby': 'image-viewer-title' } },
  h('div', { class: 'viewer-bar' }, title, position, h('span', { class: 'viewer-actions' }, prev, next, size, share, download, close)),
  stage
)

let images: Shown[] = []
let index = 0
let opener: HTMLElement | null = null

/** The image attachments on screen in the open conversation, in list order. */
function conversationImages(): Shown[] {
  return [...document.querySelectorAll<HTMLElement>('#messages .attachment.image[data-file-id]')].map((el) => ({
    fileId: el.dataset.fileId!,
    name: el.querySelector('img')?.alt ?? ''
  }))
}

function show(i: number): void {
  index = (i + images.length) % images.length
  const s = images[index]!
  const url = `/api/files/${s.fileId}/content`
  title.textContent = s.name
  position.textContent = images.length > 1 ? `${index + 1} of ${images.length}` : ''
  prev.disabled = next.disabled = images.length < 2
  img.alt = s.name
  img.src = `${url}?disposition=inline`
  download.href = `${url}?disposition=attachment`
  download.setAttribute('download', s.name)
  share.replaceChildren(shareButton({ kind: 'file', fileId: s.fileId, name: s.name }))
  actualSize(false)
}

function actualSize(on: boolean): void {
  stage.classList.toggle('actual', on)
  size.setAttribute('aria-pressed', String(on))
}

/** Opens the viewer at `fileId` among the conversation's images; focus goes back to `from` on close. */
export function openImage(fileId: string, from: HTMLElement): void {
  if (!dialog.isConnected) wire()
  images = conversationImages()
  const at = images.findIndex((s) => s.fileId === fileId)
  if (at < 0) return
  opener = from
  show(at)
  dialog.showModal()
  close.focus()
}

function wire(): void {
  document.body.append(dialog)
  prev.addEventListener('click', () => show(index - 1))
  next.addEventListener('click', () => show(index + 1))
  close.addEventListener('click', () => dialog.close())
  size.addEventListener('click', () => actualSize(!stage.classList.contains('actual')))
  img.addEventListener('click', () => actualSize(!stage.classList.contains('actual')))
  dialog.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight') {
      // Arrows scroll an image shown at its actual size; otherwise they move between images.
      if (stage.classList.contains('actual')) return
      ev.preventDefault()
      show(index + (ev.key === 'ArrowLeft' ? -1 : 1))
    } else if (ev.key === 'Tab') {
      trapTab(ev)
    }
  })
  // Escape closes a modal dialog by itself (its `cancel` event); every way out restores focus.
  dialog.addEventListener('close', () => {
    img.removeAttribute('src')
    opener?.focus()
    opener = null
  })
}

/** A modal dialog still lets Tab leave for the browser's own controls: keep it within. */
function trapTab(ev: KeyboardEvent): void {
  const stops = [...dialog.querySelectorAll<HTMLElement>('button:not([disabled]), a[href]')]
  const first = stops[0]
  const last = stops[stops.length - 1]
  if (!first || !last) return
  if (ev.shiftKey && document.activeElement === first) {
    ev.preventDefault()
    last.focus()
  } else if (!ev.shiftKey && document.activeElement === last) {
    ev.preventDefault()
    first.focus()
  }
}

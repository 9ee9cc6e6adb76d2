/**
 * Paste an image into the message box to upload it (issue 26 item 8), through the same path as a
 * picked or dropped file (files.ts: limits, progress, refusals). A paste that carries text as well
 * (a copied document with a picture of itself) pastes its text as usual and uploads nothing.
 */
import { upload } from './files.js'
import { els } from './ui.js'

/** Clipboard images are all called "image.png": a name that tells them apart in the conversation. */
function named(file: File, at: Date): File {
  const ext = /^image\/([a-z0-9]+)/.exec(file.type)?.[1]?.replace('jpeg', 'jpg') ?? 'png'
  const stamp = at.toISOString().slice(0, 19).replace('T', ' ').replaceAll(':', '.')
  return new File([file], `Pasted image ${stamp}.${ext}`, { type: file.type, lastModified: at.getTime() })
}

export function wirePasteUpload(): void {
  els.text.addEventListener('paste', (ev) => {
    const data = ev.clipboardData
    if (!data || data.types.includes('text/plain')) return
    const images = [...data.files].filter((f) => f.type.startsWith('image/'))
    if (images.length === 0) return
    ev.preventDefault()
    const now = new Date()
    for (const f of images) void upload(named(f, now))
  })
}

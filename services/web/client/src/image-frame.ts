/**
 * An image attachment's frame, sized from the dimensions the files service read at upload, so the
 * space is reserved before a byte of the image arrives and nothing below it moves. The CSP forbids
 * inline styles: the size goes in the <img>'s width/height attributes (scaled to fit the box below),
 * and styles.css lets it shrink with `max-width: 100%; height: auto`, the ratio kept by the
 * attributes. Without stored dimensions (older files, untrusted headers) the frame is a fixed box.
 */
import type { FileMeta } from '@palisade/contracts'
import { h } from './dom.js'

/** The box an image is fitted into, in CSS pixels (styles.css: `.attachment.image`). */
export const IMAGE_BOX = { width: 224, height: 224 }

/** The displayed size: the image scaled down (never up) to fit IMAGE_BOX, at least 1 px a side. */
export function fitted(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(1, IMAGE_BOX.width / width, IMAGE_BOX.height / height)
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) }
}

export function imageFrame(f: FileMeta, src: string, onLoad: () => void): HTMLElement {
  const img = h('img', { src, alt: f.name, loading: 'lazy', decoding: 'async' })
  img.addEventListener('load', onLoad, { once: true })
  if (f.width && f.height) {
    const size = fitted(f.width, f.height)
    img.width = size.width
    img.height = size.height
    return h('span', { class: 'frame sized' }, img)
  }
  return h('span', { class: 'frame' }, img)
}

/**
 * File metadata (`GET /api/files/:id`), asked once per file for the page's life: a message's
 * attachments are looked up when it is first shown, never again on later renders or when the
 * conversation is opened again. A failed lookup is forgotten, so the next view asks again.
 */
import type { FileMeta } from '@palisade/contracts'
import { api } from './api.js'

const cache = new Map<string, Promise<FileMeta>>()

export function fileMeta(id: string): Promise<FileMeta> {
  let p = cache.get(id)
  if (!p) {
    p = api<FileMeta>('GET', `/api/files/${id}`)
    p.catch(() => cache.delete(id))
    cache.set(id, p)
  }
  return p
}

/** Newer metadata learnt from a realtime frame (a scan's verdict) replaces the cached one. */
export function rememberFileMeta(meta: FileMeta): void {
  cache.set(meta.id, Promise.resolve(meta))
}

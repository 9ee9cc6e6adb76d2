/**
 * What the files service would refuse, found before a byte is sent: its limits come from
 * `GET /api/files/limits` (asked once per page, on the first upload or Share action), so a deployment's own
 * FILES_MAX_BYTES applies. The server still sniffs every upload; this only spares a doomed transfer.
 */
import type { FileLimits } from '@palisade/contracts'
import { api } from './api.js'

let limits: Promise<FileLimits | undefined> | undefined

/** The files service's limits and share-link policy, asked once per page (undefined: unknown). */
export function fileLimits(): Promise<FileLimits | undefined> {
  // Unknown limits (the request failed): no check here, the server's answer is shown instead.
  limits ??= api<FileLimits>('GET', '/api/files/limits').catch(() => {
    limits = undefined
    return undefined
  })
  return limits
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`
  if (n < 1024 * 1024) return `${Math.ceil(n / 1024)} KiB`
  return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`
}

/** Why the server would refuse this file, or undefined when it may be sent. */
export async function refusalOf(file: File): Promise<string | undefined> {
  if (file.size === 0) return 'The file is empty.'
  const l = await fileLimits()
  if (!l) return undefined
  if (file.size > l.maxBytes) return `The file is ${formatBytes(file.size)}; files may be at most ${formatBytes(l.maxBytes)}.`
  const dot = file.name.lastIndexOf('.')
  const ext = dot > 0 ? file.name.slice(dot + 1).toLowerCase() : ''
  // Either the browser's type or the extension must be one the server takes; with neither known, it decides.
  if (!ext && !file.type) return undefined
  const known = l.types.some((t) => t.type === file.type || (ext !== '' && t.extensions.includes(ext)))
  if (!known) return `Files of this type (${ext ? `.${ext}` : file.type}) are not accepted.`
  return undefined
}

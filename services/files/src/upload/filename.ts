import { ALLOWED_FILE_TYPES, FILE_NAME_MAX_BYTES } from '@palisade/contracts'

const FALLBACK_NAME = 'file'

/**
 * Characters removed from names: C0/C1 controls and DEL, bidirectional overrides, embeddings,
 * isolates and marks (the `invoice‮fdp.exe` trick), zero-width characters, the BOM, line and
 * paragraph separators, interlinear annotation marks and lone surrogates.
 */
// eslint-disable-next-line no-control-regex
const STRIPPED = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff]/gu
/** Characters Windows forbids in names (plus the path separators, handled before). */
const RESERVED = /[<>:"|?*]/g
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i

const encoder = new TextEncoder()

function utf8Length(s: string): number {
  return encoder.encode(s).byteLength
}

/** The longest prefix of `s` (whole code points) that fits in `maxBytes` of UTF-8. */
function truncateUtf8(s: string, maxBytes: number): string {
  if (utf8Length(s) <= maxBytes) return s
  let out = ''
  let used = 0
  for (const ch of s) {
    const n = utf8Length(ch)
    if (used + n > maxBytes) break
    out += ch
    used += n
  }
  return out
}

function splitExtension(name: string): [string, string] {
  const dot = name.lastIndexOf('.')
  if (dot <= 0 || dot === name.length - 1) return [name, '']
  return [name.slice(0, dot), name.slice(dot + 1)]
}

/** Shortens a name to FILE_NAME_MAX_BYTES, keeping a short extension when there is one. */
function fitName(name: string): string {
  if (utf8Length(name) <= FILE_NAME_MAX_BYTES) return name
  const [base, ext] = splitExtension(name)
  if (ext && utf8Length(ext) <= 16) {
    const room = FILE_NAME_MAX_BYTES - utf8Length(ext) - 1
    return `${truncateUtf8(base, room).replace(/[\s.]+$/, '') || FALLBACK_NAME}.${ext}`
  }
  return truncateUtf8(name, FILE_NAME_MAX_BYTES)
}

/**
 * Turns a client-supplied file name into harmless metadata: only the last path segment (both `/`
 * and `\`), NFC, no control or bidi/zero-width characters, no Windows-reserved characters or device
 * names, no leading/trailing dots or spaces, at most FILE_NAME_MAX_BYTES bytes of UTF-8. The result
 * is never used as a path; the blob store keys bytes by a server-made id.
 */
export function sanitizeFileName(raw: string | undefined): string {
  let name = (raw ?? '').normalize('NFC').replace(STRIPPED, '')
  const lastSep = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'))
  if (lastSep !== -1) name = name.slice(lastSep + 1)
  name = name.replace(RESERVED, '_').replace(/\s+/g, ' ')
  name = name.replace(/^[\s.]+/, '').replace(/[\s.]+$/, '')
  if (!name) return FALLBACK_NAME
  if (WINDOWS_DEVICE.test(name)) name = `_${name}`
  return fitName(name)
}

/**
 * Makes the name's extension agree with the sniffed type, so a saved download opens with the
 * program for what the bytes are (`report.html` holding plain text becomes `report.html.txt`).
 */
export function withTypeExtension(name: string, type: string): string {
  const allowed = ALLOWED_FILE_TYPES[type]
  if (!allowed) return name
  const [, ext] = splitExtension(name)
  if (ext && allowed.extensions.includes(ext.toLowerCase())) return name
  const canonical = allowed.extensions[0]!
  const room = FILE_NAME_MAX_BYTES - canonical.length - 1
  return `${truncateUtf8(name, room)}.${canonical}`
}

/**
 * RFC 6266 Content-Disposition with an ASCII `filename` fallback and the exact name in RFC 8187
 * `filename*`. Quotes, backslashes and `%` never reach the fallback (some agents decode it).
 */
export function contentDisposition(kind: 'attachment' | 'inline', name: string): string {
  const fallback =
    name
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^\x20-\x7e]|["\\%;]/g, '_') || FALLBACK_NAME
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `${kind}; filename="${fallback}"; filename*=UTF-8''${encoded}`
}

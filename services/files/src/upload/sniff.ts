import type { Readable } from 'node:stream'
import { crc32 } from 'node:zlib'
import { fileTypeFromBuffer, fileTypeFromStream } from 'file-type'
import { ALLOWED_FILE_TYPES } from '@palisade/contracts'

/** What the receiver learnt about the bytes while streaming them. */
export interface ContentFacts {
  /** first bytes of the file (up to SNIFF_HEAD_BYTES) */
  head: Buffer
  /** first bytes of the file (up to IMAGE_HEAD_BYTES): where an image's header is looked for */
  imageHead: Buffer
  /** the whole file is strict UTF-8 */
  utf8: boolean
  /** the file contains a NUL byte */
  hasNul: boolean
  /** `imageHead` is the whole file (it was no longer than the head kept) */
  whole: boolean
}

export const SNIFF_HEAD_BYTES = 64 * 1024

export type SniffResult = { ok: true; type: string } | { ok: false; reason: string }

/**
 * Markup at the start of a text file (after a BOM and white space): HTML, SVG, XML and their
 * comment/processing-instruction openers, i.e. what a browser's sniffer would treat as a document.
 */
const MARKUP_START =
  /^<(?:!doctype|!--|\?xml|html|head|body|script|iframe|svg|math|style|title|table|div|span|a|p|b|i|br|h[1-6]|font|img|meta|link|object|embed|form|input|frameset|frame|xsl:|xml)(?=[\s>/]|$)/i
/** Active markup anywhere in the head of an image: the image-with-HTML-behind-the-header polyglot. */
const MARKUP_IN_BINARY = /<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>]|script[\s>]|iframe[\s>]|svg[\s>]|object[\s>]|embed[\s>])/i

export function looksLikeMarkup(head: Buffer): boolean {
  const text = head
    .subarray(0, 1024)
    .toString('utf8')
    .replace(/^\ufeff/, '')
    .trimStart()
  return MARKUP_START.test(text)
}

/** A PNG starts with its signature and a well-formed IHDR chunk (length 13, valid CRC, sane size). */
function validPngHeader(head: Buffer): boolean {
  if (head.length < 33) return false
  if (head.readUInt32BE(8) !== 13 || head.toString('latin1', 12, 16) !== 'IHDR') return false
  const width = head.readUInt32BE(16)
  const height = head.readUInt32BE(20)
  if (width === 0 || height === 0 || width > 2 ** 31 - 1 || height > 2 ** 31 - 1) return false
  return crc32(head.subarray(12, 29)) === head.readUInt32BE(29)
}

/** `image/jpg` and friends: names clients use for the types the sniffer reports. */
const TYPE_ALIASES: Record<string, string> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'audio/mp3': 'audio/mpeg',
  'audio/x-mp3': 'audio/mpeg',
  'audio/x-mpeg': 'audio/mpeg',
  'audio/x-wav': 'audio/wav',
  'audio/wave': 'audio/wav',
  'audio/vnd.wave': 'audio/wav',
  'audio/x-m4a': 'audio/mp4',
  'audio/m4a': 'audio/mp4',
  'application/ogg': 'audio/ogg',
  'audio/opus': 'audio/ogg',
  'application/x-pdf': 'application/pdf'
}

/** Declared types that may label what the service stores as plain text. Markup and scripts are not among them. */
const TEXT_CLAIMS = new Set([
  'text/plain',
  'text/markdown',
  'text/x-markdown',
  'text/csv',
  'text/tab-separated-values',
  'text/x-log',
  'application/json',
  'application/x-ndjson',
  'application/yaml',
  'application/x-yaml',
  'text/yaml',
  'text/x-yaml',
  'application/toml',
  'text/calendar',
  'text/vcard',
  'text/vtt'
])

/** Types that are one container seen from two sides (an .mp4 may be reported as audio or video). */
const SAME_CONTAINER: Record<string, string> = { 'audio/mp4': 'mp4', 'video/mp4': 'mp4' }

export function normalizeMediaType(value: string | undefined): string {
  const base = (value ?? '').split(';')[0]!.trim().toLowerCase()
  return TYPE_ALIASES[base] ?? base
}

/**
 * Whether the client's declared type agrees with the sniffed one. No declaration (empty or
 * `application/octet-stream`, what browsers send for unknown files) agrees with anything. A part
 * without a Content-Type is `text/plain` by RFC 7578, so it only agrees with text.
 */
export function declaredTypeAgrees(declared: string | undefined, sniffed: string): boolean {
  const d = normalizeMediaType(declared)
  if (d === '' || d === 'application/octet-stream') return true
  if (sniffed === 'text/plain') return TEXT_CLAIMS.has(d)
  if (d === sniffed) return true
  const a = SAME_CONTAINER[d]
  return a !== undefined && a === SAME_CONTAINER[sniffed]
}

/** file-type over a stream it may read as far as it needs; the stream is closed afterwards. */
async function detectInStream(open: () => Promise<Readable>): ReturnType<typeof fileTypeFromStream> {
  const stream = await open()
  try {
    return await fileTypeFromStream(stream)
  } finally {
    stream.destroy()
  }
}

/**
 * The file's type from its bytes: magic numbers via file-type (over the head kept while receiving
 * when that is the whole file, as most attachments are; else over the decrypted temp file, of which
 * it reads only what it needs), else plain text when the whole file is strict UTF-8 without NUL bytes and does
 * not open like markup. Only types on the allow list pass; images must not carry markup in their
 * head and PNGs must have a valid IHDR.
 */
export async function sniffType(open: () => Promise<Readable>, facts: ContentFacts): Promise<SniffResult> {
  const detected = facts.whole ? await fileTypeFromBuffer(facts.imageHead) : await detectInStream(open)
  let type: string
  if (detected) {
    type = normalizeMediaType(detected.mime)
    // file-type knows a few text formats (calendar, vCard, WebVTT): store them as plain text.
    if (type.startsWith('text/') && facts.utf8 && !facts.hasNul) type = 'text/plain'
  } else if (facts.utf8 && !facts.hasNul) {
    type = 'text/plain'
  } else {
    return { ok: false, reason: 'the content is of an unknown type' }
  }
  if (!ALLOWED_FILE_TYPES[type]) return { ok: false, reason: `files of type ${type} are not accepted` }
  if (type === 'text/plain' && looksLikeMarkup(facts.head)) return { ok: false, reason: 'HTML, SVG and XML documents are not accepted' }
  if (type.startsWith('image/')) {
    if (MARKUP_IN_BINARY.test(facts.head.toString('latin1'))) return { ok: false, reason: 'the image carries markup' }
    if (type === 'image/png' && !validPngHeader(facts.head)) return { ok: false, reason: 'the PNG header is malformed' }
  }
  return { ok: true, type }
}

import { createCipheriv, createDecipheriv, createHash, timingSafeEqual } from 'node:crypto'
import type { FileHandle } from 'node:fs/promises'
import { Readable, Transform, type TransformCallback } from 'node:stream'

/**
 * The blob format (v1): the plaintext cut into CHUNK_BYTES pieces (the last one shorter, an empty
 * file one empty piece), each sealed with AES-256-GCM under the file's own data key and stored as
 * ciphertext ‖ 16-byte tag, back to back. No header: the row holds the key id, the wrapped data key
 * and the plaintext size, from which every chunk's offset follows — which is what lets a range
 * read decrypt only the chunks it needs.
 *
 * Nonce = the chunk index (the data key is used for this one file only, and each index once).
 * AAD = context ‖ file id ‖ chunk index ‖ last-chunk flag, so a chunk moved to another position,
 * copied from another file, or a file cut after a full chunk, fails its tag.
 */
export const CHUNK_BYTES = 64 * 1024
export const TAG_BYTES = 16
const CONTEXT = Buffer.from('palisade-files/chunk/v1\0', 'utf8')

export class IntegrityError extends Error {
  override name = 'IntegrityError'
}

export function chunkCount(size: number): number {
  return Math.max(1, Math.ceil(size / CHUNK_BYTES))
}

/** Bytes on disk for `size` bytes of plaintext. */
export function sealedSize(size: number): number {
  return size + chunkCount(size) * TAG_BYTES
}

function uuidBytes(fileId: string): Buffer {
  const hex = fileId.replace(/-/g, '')
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error('invalid file id')
  return Buffer.from(hex, 'hex')
}

function nonceOf(index: number): Buffer {
  const n = Buffer.alloc(12)
  n.writeBigUInt64BE(BigInt(index), 0)
  return n
}

function aadOf(fileBytes: Buffer, index: number, last: boolean): Buffer {
  const aad = Buffer.alloc(CONTEXT.length + 16 + 8 + 1)
  CONTEXT.copy(aad, 0)
  fileBytes.copy(aad, CONTEXT.length)
  aad.writeBigUInt64BE(BigInt(index), CONTEXT.length + 16)
  aad[aad.length - 1] = last ? 1 : 0
  return aad
}

export function sealChunk(dataKey: Buffer, fileBytes: Buffer, index: number, last: boolean, plain: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', dataKey, nonceOf(index))
  cipher.setAAD(aadOf(fileBytes, index, last))
  const body = cipher.update(plain)
  cipher.final()
  return Buffer.concat([body, cipher.getAuthTag()])
}

export function openChunk(dataKey: Buffer, fileBytes: Buffer, index: number, last: boolean, sealed: Buffer): Buffer {
  if (sealed.length < TAG_BYTES) throw new IntegrityError(`chunk ${index} is short`)
  const decipher = createDecipheriv('aes-256-gcm', dataKey, nonceOf(index))
  decipher.setAAD(aadOf(fileBytes, index, last))
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
  const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES))
  try {
    decipher.final()
  } catch {
    throw new IntegrityError(`chunk ${index} does not authenticate`)
  }
  return plain
}

/**
 * Encrypts a byte stream into the v1 format while it passes through. Holds at most one chunk: a
 * full chunk is sealed only once the next byte arrives, because only then is it known not to be
 * the last.
 */
export class SealStream extends Transform {
  private readonly fileBytes: Buffer
  private readonly buf = Buffer.alloc(CHUNK_BYTES)
  private filled = 0
  private index = 0

  constructor(
    private readonly dataKey: Buffer,
    fileId: string
  ) {
    super({ highWaterMark: CHUNK_BYTES + TAG_BYTES })
    this.fileBytes = uuidBytes(fileId)
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let off = 0
    while (off < chunk.length) {
      if (this.filled === CHUNK_BYTES) {
        this.push(sealChunk(this.dataKey, this.fileBytes, this.index++, false, this.buf))
        this.filled = 0
      }
      const n = chunk.copy(this.buf, this.filled, off, Math.min(chunk.length, off + CHUNK_BYTES - this.filled))
      this.filled += n
      off += n
    }
    cb()
  }

  override _flush(cb: TransformCallback): void {
    this.push(sealChunk(this.dataKey, this.fileBytes, this.index, true, this.buf.subarray(0, this.filled)))
    this.buf.fill(0)
    cb()
  }
}

export interface SealedBlob {
  fileId: string
  dataKey: Buffer
  /** plaintext size, from the row */
  size: number
  /** plaintext sha256 (hex), from the row: checked on every full read */
  sha256: string
}

/**
 * Yields the plaintext bytes `start..end` (inclusive) of a sealed blob, decrypting only the chunks
 * that hold them; every chunk is authenticated before any of its bytes is yielded. A full read also
 * hashes the plaintext and releases the last chunk only once the whole file matched the stored
 * sha256: a modified blob is never delivered complete. Closes `handle` when done or abandoned.
 */
export async function* openRange(handle: FileHandle, blob: SealedBlob, start: number, end: number): AsyncGenerator<Buffer> {
  try {
    const { size } = await handle.stat()
    if (size !== sealedSize(blob.size)) throw new IntegrityError(`blob is ${size} bytes, expected ${sealedSize(blob.size)}`)
    const fileBytes = uuidBytes(blob.fileId)
    const last = chunkCount(blob.size) - 1
    const first = Math.floor(start / CHUNK_BYTES)
    const final = blob.size === 0 ? 0 : Math.floor(end / CHUNK_BYTES)
    const full = start === 0 && end >= blob.size - 1
    const hash = full ? createHash('sha256') : undefined
    const sealed = Buffer.alloc(CHUNK_BYTES + TAG_BYTES)
    for (let i = first; i <= final; i++) {
      const plainLen = Math.min(CHUNK_BYTES, blob.size - i * CHUNK_BYTES)
      const want = plainLen + TAG_BYTES
      let got = 0
      while (got < want) {
        const { bytesRead } = await handle.read(sealed, got, want - got, i * (CHUNK_BYTES + TAG_BYTES) + got)
        if (bytesRead === 0) throw new IntegrityError(`blob ends inside chunk ${i}`)
        got += bytesRead
      }
      const plain = openChunk(blob.dataKey, fileBytes, i, i === last, sealed.subarray(0, want))
      if (hash) {
        hash.update(plain)
        if (i === last) {
          const digest = hash.digest()
          if (!timingSafeEqual(digest, Buffer.from(blob.sha256, 'hex'))) throw new IntegrityError('content hash does not match')
        }
      }
      const from = i === first ? start - i * CHUNK_BYTES : 0
      const to = i === final ? end - i * CHUNK_BYTES + 1 : plainLen
      if (to > from) yield from === 0 && to === plain.length ? plain : plain.subarray(from, to)
    }
  } finally {
    await handle.close().catch(() => {})
  }
}

/**
 * `openRange` as a byte stream (what a reply or clamd's INSTREAM takes). The size check and the
 * first chunk are done before this resolves, so a damaged blob is refused before anyone answers.
 * The handle is closed however the stream ends, also when it is destroyed unread.
 */
export async function rangeStream(handle: FileHandle, blob: SealedBlob, start: number, end: number): Promise<Readable> {
  const gen = openRange(handle, blob, start, end)
  const first = await gen.next()
  async function* resumed(): AsyncGenerator<Buffer> {
    if (first.done) return
    yield first.value
    yield* gen
  }
  const stream = Readable.from(resumed(), { objectMode: false })
  stream.once('close', () => void handle.close().catch(() => {}))
  return stream
}

import { createHash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { FastifyRequest } from 'fastify'
import type { Multipart } from '@fastify/multipart'
import { ErrorCode, FILE_UPLOAD_OVERHEAD_BYTES, FilesErrorCode } from '@palisade/contracts'
import { ProblemError } from '@palisade/platform'
import type { WrappedKey } from '../crypto/keyring.js'
import type { FileVault } from '../crypto/vault.js'
import type { DiskBlobStore } from '../storage/disk-store.js'
import { Utf8Validator } from './utf8.js'
import { IMAGE_HEAD_BYTES } from './dimensions.js'
import { SNIFF_HEAD_BYTES, type ContentFacts } from './sniff.js'

/** Multipart framing and the text fields around the file (the edge's limit adds the same, libs/contracts). */
export const MULTIPART_OVERHEAD_BYTES = FILE_UPLOAD_OVERHEAD_BYTES

/** Limits handed to busboy for every upload request. */
export function multipartLimits(maxBytes: number) {
  return {
    fileSize: maxBytes,
    files: 1,
    fields: 4,
    fieldSize: 1024,
    fieldNameSize: 64,
    parts: 6,
    headerPairs: 16
  }
}

export interface ReceivedFile {
  /** sealed bytes (blob format v1) under `dataKey` */
  tempPath: string
  dataKey: Buffer
  wrapped: WrappedKey
  size: number
  sha256: string
  /** the part's Content-Type as the client sent it (busboy: `text/plain` when absent) */
  declaredType: string
  rawName: string
  facts: ContentFacts
}

export interface Received {
  file: ReceivedFile
  fields: Record<string, string>
}

/** The sniffer's head, or the image header's when longer (upload/dimensions.ts). */
const HEAD_BYTES = Math.max(SNIFF_HEAD_BYTES, IMAGE_HEAD_BYTES)

/** Counts, hashes, validates UTF-8 and keeps the first bytes, passing every chunk through unchanged. */
class Inspector extends Transform {
  size = 0
  readonly hash = createHash('sha256')
  readonly utf8 = new Utf8Validator()
  private readonly head: Buffer[] = []
  private headBytes = 0

  constructor(
    private readonly maxSize: number,
    private readonly onOver: () => ProblemError
  ) {
    super({ highWaterMark: 64 * 1024 })
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length
    if (this.size > this.maxSize) return cb(this.onOver())
    this.hash.update(chunk)
    this.utf8.push(chunk)
    if (this.headBytes < HEAD_BYTES) {
      const take = Buffer.from(chunk.subarray(0, HEAD_BYTES - this.headBytes))
      this.head.push(take)
      this.headBytes += take.length
    }
    cb(null, chunk)
  }

  facts(): ContentFacts {
    const utf8 = this.utf8.end()
    const kept = Buffer.concat(this.head)
    return { head: kept.subarray(0, SNIFF_HEAD_BYTES), imageHead: kept, utf8, hasNul: this.utf8.hasNul, whole: kept.length === this.size }
  }
}

const MULTIPART_ERRORS: Record<string, [number, string, string]> = {
  FST_FILES_LIMIT: [400, ErrorCode.validationFailed, 'Only one file per request'],
  FST_PARTS_LIMIT: [400, ErrorCode.validationFailed, 'Too many form parts'],
  FST_FIELDS_LIMIT: [400, ErrorCode.validationFailed, 'Too many form fields'],
  FST_PROTO_VIOLATION: [400, ErrorCode.validationFailed, 'Invalid form field name'],
  FST_INVALID_JSON_FIELD_ERROR: [400, ErrorCode.validationFailed, 'Invalid form field'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [415, ErrorCode.unsupportedMediaType, 'Expected multipart/form-data'],
  FST_REQ_FILE_TOO_LARGE: [413, ErrorCode.fileTooLarge, 'File is too large'],
  FST_MP_PREMATURE_CLOSE: [400, ErrorCode.malformedBody, 'The upload was aborted']
}

/** Maps whatever went wrong while receiving to a problem a client can act on (or rethrows). */
export function uploadProblem(err: unknown): ProblemError | undefined {
  if (err instanceof ProblemError) return err
  const e = err as NodeJS.ErrnoException & { code?: string }
  const known = e?.code ? MULTIPART_ERRORS[e.code] : undefined
  if (known) return new ProblemError(known[0], known[1], known[2])
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') return new ProblemError(503, ErrorCode.serviceUnavailable, 'Storage is full')
  if (e?.code === 'ERR_STREAM_PREMATURE_CLOSE' || e?.code === 'ECONNRESET' || e?.code === 'ERR_STREAM_DESTROYED') {
    return new ProblemError(400, ErrorCode.malformedBody, 'The upload was aborted')
  }
  // busboy's own parse errors ("Unexpected end of form", "Malformed part header", …)
  if (e instanceof Error && !e.code && /multipart|form|part|boundary/i.test(e.message)) {
    return new ProblemError(400, ErrorCode.malformedBody, 'Malformed multipart body')
  }
  return undefined
}

export interface ReceiveOptions {
  store: DiskBlobStore
  vault: FileVault
  /** the id the file will have: the sealed chunks are bound to it */
  fileId: string
  maxBytes: number
  /** bytes the user may still store: a snapshot for failing early, the binding check is under a lock */
  remainingQuota: number
}

/**
 * Reads the multipart body: text fields into `fields`, the one file part sealed (encrypted in
 * chunks) into a fresh temp file while it is counted, hashed and checked for UTF-8. Nothing is buffered beyond the first
 * SNIFF_HEAD_BYTES (IMAGE_HEAD_BYTES, to find an image's size). The size limit is busboy's (the part is cut off at `maxBytes`, reported as 413
 * FILE_TOO_LARGE); going past the remaining quota stops the write at once (413 QUOTA_EXCEEDED).
 * On any failure the temp file is gone before this rejects; on success the caller owns it.
 */
export async function receiveUpload(request: FastifyRequest, opts: ReceiveOptions): Promise<Received> {
  const fields: Record<string, string> = {}
  let file: ReceivedFile | undefined
  let tempPath: string | undefined
  try {
    for await (const part of request.parts() as AsyncIterableIterator<Multipart>) {
      if (part.type === 'field') {
        if (part.fieldnameTruncated || part.valueTruncated || typeof part.value !== 'string') {
          throw new ProblemError(400, ErrorCode.validationFailed, 'Invalid form field')
        }
        if (Object.hasOwn(fields, part.fieldname))
          throw new ProblemError(400, ErrorCode.validationFailed, `Duplicate form field ${part.fieldname.slice(0, 64)}`)
        fields[part.fieldname] = part.value
        continue
      }
      if (file) throw new ProblemError(400, ErrorCode.validationFailed, 'Only one file per request')
      const temp = await opts.store.createTemp()
      tempPath = temp.path
      const inspector = new Inspector(opts.remainingQuota, () => new ProblemError(413, ErrorCode.quotaExceeded, 'Storage quota exceeded'))
      // Sealed on the way to disk: plaintext never touches the file system, not even in tmp/.
      const { seal, dataKey, wrapped } = opts.vault.sealer(opts.fileId)
      await pipeline(part.file, inspector, seal, temp.stream)
      if (part.file.truncated) throw new ProblemError(413, ErrorCode.fileTooLarge, `File is larger than ${opts.maxBytes} bytes`)
      file = {
        tempPath,
        dataKey,
        wrapped,
        size: inspector.size,
        sha256: inspector.hash.digest('hex'),
        declaredType: part.mimetype,
        rawName: part.filename,
        facts: inspector.facts()
      }
    }
  } catch (err) {
    if (tempPath) await opts.store.discardTemp(tempPath)
    throw uploadProblem(err) ?? err
  }
  if (!file) throw new ProblemError(400, FilesErrorCode.fileMissing, 'The form has no file part')
  return { file, fields }
}

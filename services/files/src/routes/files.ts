import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Value } from 'typebox/value'
import {
  ALLOWED_FILE_TYPES,
  ErrorCode,
  FileLimitsSchema,
  FileListQuerySchema,
  FileListResponseSchema,
  FileMetaSchema,
  FilesErrorCode,
  IdParamsSchema,
  UploadFieldsSchema
} from '@palisade/contracts'
import { callContextOf, identityOf, ProblemError, problems } from '@palisade/platform'
import { canRead, isMember } from '../access.js'
import type { FilesContext } from '../context.js'
import { fileCursor, toMeta } from '../db/repo.js'
import { trashRoutes } from './trash.js'
import { imageDimensions } from '../upload/dimensions.js'
import { declaredTypeAgrees, sniffType } from '../upload/sniff.js'
import { sanitizeFileName, withTypeExtension } from '../upload/filename.js'
import { MULTIPART_OVERHEAD_BYTES, receiveUpload, type ReceivedFile } from '../upload/receive.js'

/** Counts each user's uploads streaming on this instance (bounds the temp space one user can hold). */
function uploadSlots(max: number): (userId: string) => () => void {
  const inFlight = new Map<string, number>()
  return (userId) => {
    const n = inFlight.get(userId) ?? 0
    if (n >= max) throw new ProblemError(429, FilesErrorCode.tooManyUploads, 'Too many uploads in progress', { 'retry-after': '1' })
    inFlight.set(userId, n + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const left = (inFlight.get(userId) ?? 1) - 1
      if (left <= 0) inFlight.delete(userId)
      else inFlight.set(userId, left)
    }
  }
}

/**
 * What is left of a rejected body is read and dropped, so the client (still sending) gets its
 * answer on a connection that stays usable; past `maxBytes` the connection is closed instead.
 */
function discardRest(raw: FastifyRequest['raw'], maxBytes: number): void {
  let dropped = 0
  raw.on('data', (chunk: Buffer) => {
    dropped += chunk.length
    if (dropped > maxBytes) raw.socket?.destroy()
  })
  raw.on('error', () => {})
  raw.resume()
}

export const filesRoutes: FastifyPluginAsync<{ ctx: FilesContext }> = async (base, { ctx }) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>()
  const { config, repo, store } = ctx
  await app.register(trashRoutes, { ctx })
  const acquireUploadSlot = uploadSlots(config.FILES_MAX_CONCURRENT_UPLOADS_PER_USER)
  const uploadBytes = app.metrics.counter({ name: 'files_upload_bytes_total', help: 'Bytes of files stored by uploads' })

  app.post(
    '/',
    {
      config: { rateLimit: { max: config.FILES_UPLOADS_PER_MINUTE, timeWindow: 60_000 } },
      schema: { response: { 201: FileMetaSchema } },
      // Answered before the body was read (rate limit, a refusal below): close the connection after
      // the answer. Node would otherwise keep it open with the unread upload until the request
      // timeout, and a keep-alive client that is still sending would wait for nothing.
      onSend: async (request, reply) => {
        if (!request.raw.readableEnded && request.raw.readableFlowing !== true) reply.header('connection', 'close')
      }
    },
    async (request, reply) => {
      const { userId } = identityOf(request)
      const callCtx = callContextOf(request)
      let remainingQuota: number
      let release: () => void
      try {
        if (!request.isMultipart()) throw new ProblemError(415, ErrorCode.unsupportedMediaType, 'Expected multipart/form-data')
        const declaredLength = Number(request.headers['content-length'] ?? NaN)
        if (declaredLength > config.FILES_MAX_BYTES + MULTIPART_OVERHEAD_BYTES) {
          throw new ProblemError(413, ErrorCode.fileTooLarge, `File is larger than ${config.FILES_MAX_BYTES} bytes`)
        }
        remainingQuota = config.FILES_USER_QUOTA_BYTES - (await repo.usedBytes(userId))
        if (remainingQuota <= 0) throw new ProblemError(413, ErrorCode.quotaExceeded, 'Storage quota exceeded')
        release = acquireUploadSlot(userId)
      } catch (err) {
        // Refused before reading a byte: answer at once and close (see onSend), never read an unwanted body.
        reply.header('connection', 'close')
        throw err
      }

      let received: ReceivedFile | undefined
      let committed = false
      try {
        const id = randomUUID()
        const { file, fields } = await receiveUpload(request, { store, vault: ctx.vault, fileId: id, maxBytes: config.FILES_MAX_BYTES, remainingQuota })
        received = file
        if (!Value.Check(UploadFieldsSchema, fields)) throw new ProblemError(400, ErrorCode.validationFailed, 'Unknown or invalid form field')
        if (file.size === 0) throw new ProblemError(400, FilesErrorCode.emptyFile, 'The file is empty')

        const sealed = { fileId: id, dataKey: file.dataKey, size: file.size, sha256: file.sha256 }
        const sniffed = await sniffType(() => ctx.vault.readTemp(file.tempPath, sealed), file.facts)
        if (!sniffed.ok) throw new ProblemError(415, ErrorCode.unsupportedFileType, `Unsupported file: ${sniffed.reason}`)
        if (!declaredTypeAgrees(file.declaredType, sniffed.type)) {
          throw new ProblemError(415, ErrorCode.unsupportedFileType, `The declared type does not match the content (${sniffed.type})`)
        }

        const conversationId = fields.conversationId?.toLowerCase() ?? null
        if (conversationId && !(await isMember(request.server.nats, userId, conversationId, callCtx))) {
          throw problems.notFound('Conversation not found')
        }

        const name = withTypeExtension(sanitizeFileName(file.rawName), sniffed.type)
        // From the plaintext head kept while streaming: the sealed blob is never read back for this.
        const dims = imageDimensions(sniffed.type, file.facts.imageHead)
        const status = config.FILES_SCAN_MODE === 'clamd' ? 'pending' : 'unscanned'
        const tempPath = file.tempPath
        let placed = false
        let row
        try {
          row = await repo.insertWithinQuota(
            {
              id,
              ownerId: userId,
              conversationId,
              name,
              type: sniffed.type,
              size: file.size,
              sha256: file.sha256,
              status,
              ...file.wrapped,
              width: dims?.width ?? null,
              height: dims?.height ?? null
            },
            config.FILES_USER_QUOTA_BYTES,
            async () => {
              await store.commit(tempPath, id)
              placed = true
            }
          )
        } catch (err) {
          // Rolled back (or the commit failed after the rename): the bytes must not outlive the row.
          if (placed) await store.remove(id)
          throw err
        }
        committed = true
        uploadBytes.inc(file.size)
        ctx.scanner?.kick()
        request.log.info({ fileId: id, size: file.size, type: sniffed.type, shared: conversationId !== null }, 'file stored')
        return reply.code(201).header('location', `/api/files/${id}`).send(toMeta(row))
      } finally {
        release()
        if (received && !committed) await store.discardTemp(received.tempPath)
        if (!request.raw.readableEnded) discardRest(request.raw, config.FILES_MAX_BYTES + MULTIPART_OVERHEAD_BYTES)
      }
    }
  )

  app.get('/', { schema: { querystring: FileListQuerySchema, response: { 200: FileListResponseSchema } } }, async (request) => {
    const { userId } = identityOf(request)
    const limit = request.query.limit ?? 50
    const after = fileCursor.decodeOptional(request.query.cursor)
    const rows = await repo.listByOwner(userId, limit + 1, after)
    const page = rows.slice(0, limit)
    return {
      files: page.map(toMeta),
      nextCursor: rows.length > limit ? fileCursor.encode({ at: page[page.length - 1]!.createdAt, id: page[page.length - 1]!.id }) : null
    }
  })

  // What an upload must fit, and whether links may be shared: static per process, built once.
  const limits = {
    maxBytes: config.FILES_MAX_BYTES,
    types: Object.entries(ALLOWED_FILE_TYPES).map(([type, t]) => ({ type, extensions: [...t.extensions] })),
    shareLinks: config.SHARE_LINKS
  }
  app.get('/limits', { schema: { response: { 200: FileLimitsSchema } } }, async () => limits)

  app.get('/:id', { schema: { params: IdParamsSchema, response: { 200: FileMetaSchema } } }, async (request) => {
    const { userId } = identityOf(request)
    const row = await repo.get(request.params.id.toLowerCase())
    if (!row || !(await canRead(request.server.nats, row, userId, callContextOf(request)))) throw problems.notFound('File not found')
    return toMeta(row)
  })

  app.delete('/:id', { schema: { params: IdParamsSchema } }, async (request, reply) => {
    const { userId } = identityOf(request)
    const id = request.params.id.toLowerCase()
    // Soft delete: gone for everyone at once; the blob waits for the retention sweep (admins may restore).
    const deleted = await repo.softDeleteOwned(id, userId)
    if (!deleted) {
      // Members see a shared file but may not delete it; everyone else must not learn it exists.
      const row = await repo.get(id)
      if (row && (await canRead(request.server.nats, row, userId, callContextOf(request)))) throw problems.forbidden('Only the owner can delete a file')
      throw problems.notFound('File not found')
    }
    request.log.info({ fileId: id }, 'file deleted')
    return reply.code(204).send()
  })
}

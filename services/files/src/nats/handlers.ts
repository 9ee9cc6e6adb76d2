import type { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { ErrorCode, FilesMetaGet, FilesTextGet } from '@palisade/contracts'
import { natsServe, ProblemError, problems } from '@palisade/platform'
import { actingUser, canRead } from '../access.js'
import type { FilesContext } from '../context.js'
import { IntegrityError } from '../crypto/chunked.js'
import { toMeta } from '../db/repo.js'
import { assertServable } from '../routes/content.js'
import { utf8Prefix } from '../upload/utf8.js'

/**
 * `files.meta.get` and `files.text.get` for other services (chat attachments, agents). The acting
 * user comes from the NATS header the calling service sets from its verified identity, never from
 * the payload, and the same rule as over HTTP decides: owner or member, else 404.
 */
export function serveFilesNats(app: FastifyInstance, ctx: FilesContext): ReturnType<typeof natsServe>[] {
  const log = app.log
  const meta = natsServe(
    app.nats,
    FilesMetaGet,
    async (req, callCtx) => {
      const userId = actingUser(callCtx)
      const row = await ctx.repo.get(req.fileId.toLowerCase())
      if (!row || !(await canRead(app.nats, row, userId, callCtx))) throw problems.notFound('File not found')
      return toMeta(row)
    },
    { log }
  )

  const text = natsServe(
    app.nats,
    FilesTextGet,
    async (req, callCtx) => {
      const userId = actingUser(callCtx)
      const row = await ctx.repo.get(req.fileId.toLowerCase())
      if (!row || !(await canRead(app.nats, row, userId, callCtx))) throw problems.notFound('File not found')
      assertServable(row)
      if (row.type !== 'text/plain') throw new ProblemError(415, ErrorCode.unsupportedFileType, 'The file is not plain text')
      const cap = Math.min(ctx.config.FILES_TEXT_MAX_BYTES, req.maxBytes ?? Number.MAX_SAFE_INTEGER, row.size)
      // A prefix read: every chunk it touches is authenticated (the hash needs the whole file).
      let content: Readable | undefined
      try {
        content = await ctx.vault.read(row, 0, cap - 1)
        if (!content) throw problems.notFound('File not found')
        const parts: Buffer[] = []
        for await (const chunk of content) parts.push(chunk as Buffer)
        const prefix = utf8Prefix(Buffer.concat(parts))
        return { fileId: row.id, name: row.name, size: row.size, sha256: row.sha256, text: prefix.toString('utf8'), truncated: prefix.length < row.size }
      } catch (err) {
        if (err instanceof IntegrityError) throw await ctx.audit.integrityFailure(log, row.id, err.message, { actorId: userId })
        throw err
      } finally {
        content?.destroy()
      }
    },
    { log }
  )
  return [meta, text]
}

import type { FastifyInstance } from 'fastify'
import { ErrorCode, FilesMetaGet, FilesTextGet } from '@palisade/contracts'
import { natsServe, ProblemError, problems } from '@palisade/platform'
import { actingUser, canRead } from '../access.js'
import type { FilesContext } from '../context.js'
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
      const handle = await ctx.store.open(row.id)
      if (!handle) throw problems.notFound('File not found')
      try {
        const buf = Buffer.alloc(cap)
        let filled = 0
        while (filled < cap) {
          const { bytesRead } = await handle.read(buf, filled, cap - filled, filled)
          if (bytesRead === 0) break
          filled += bytesRead
        }
        const prefix = utf8Prefix(buf.subarray(0, filled))
        return { fileId: row.id, name: row.name, size: row.size, sha256: row.sha256, text: prefix.toString('utf8'), truncated: prefix.length < row.size }
      } finally {
        await handle.close()
      }
    },
    { log }
  )
  return [meta, text]
}

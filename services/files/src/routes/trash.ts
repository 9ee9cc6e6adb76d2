import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { DeletedFilesQuerySchema, DeletedFilesResponseSchema, FileMetaSchema, IdParamsSchema, type DeletedFile } from '@palisade/contracts'
import { identityOf, problems } from '@palisade/platform'
import type { FilesContext } from '../context.js'
import { toMeta } from '../db/repo.js'
import type { FileRow } from '../db/schema.js'

const DAY_MS = 24 * 60 * 60 * 1000

/** Admins only; anyone else gets the 404 of a route that is not there (no oracle for deleted files). */
function requireAdmin(request: FastifyRequest): string {
  const id = identityOf(request)
  if (!id.roles.includes('admin')) throw problems.notFound('Not found')
  return id.userId
}

function toDeleted(row: FileRow, retentionDays: number): DeletedFile {
  const deletedAt = row.deletedAt!
  return {
    file: toMeta(row),
    deletedAt: deletedAt.toISOString(),
    reason: row.deleteReason!,
    purgeAfter: new Date(deletedAt.getTime() + retentionDays * DAY_MS).toISOString()
  }
}

/**
 * Deleted files, for admins: `GET /api/files/deleted` lists what can still be restored, `POST
 * /api/files/:id/restore` brings one back (audited). Purged files are gone for good: 404.
 */
export const trashRoutes: FastifyPluginAsync<{ ctx: FilesContext }> = async (base, { ctx }) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>()
  const days = ctx.config.FILES_RETENTION_DAYS

  app.get('/deleted', { schema: { querystring: DeletedFilesQuerySchema, response: { 200: DeletedFilesResponseSchema } } }, async (request) => {
    requireAdmin(request)
    const rows = await ctx.repo.listDeleted(request.query.limit ?? 50, request.query.ownerId?.toLowerCase())
    return { files: rows.map((r) => toDeleted(r, days)) }
  })

  app.post('/:id/restore', { schema: { params: IdParamsSchema, response: { 200: FileMetaSchema } } }, async (request) => {
    const adminId = requireAdmin(request)
    const id = request.params.id.toLowerCase()
    const row = await ctx.repo.restore(id, async (r) => {
      // An infected file's bytes were destroyed at once; a file whose blob is gone cannot come back.
      const handle = r.status === 'infected' ? undefined : await ctx.store.open(r.id)
      if (r.status !== 'infected' && !handle) throw problems.notFound('File not found')
      await handle?.close()
    })
    if (!row) throw problems.notFound('File not found')
    await ctx.audit.record('file.restored', { fileId: row.id, actorId: adminId, requestId: String(request.id), detail: { ownerId: row.ownerId } })
    request.log.info({ fileId: row.id, adminId }, 'file restored')
    return toMeta(row)
  })
}

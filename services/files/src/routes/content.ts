import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ALLOWED_FILE_TYPES, FileContentQuerySchema, FilesErrorCode, IdParamsSchema, type FileStatus } from '@palisade/contracts'
import { callContextOf, identityOf, ProblemError, problems, securityHeaders } from '@palisade/platform'
import { canRead } from '../access.js'
import type { FilesContext } from '../context.js'
import type { FileRow } from '../db/schema.js'
import { etagMatches, parseRange } from '../http/range.js'
import { contentDisposition } from '../upload/filename.js'

/** pending/infected files are never served. 409 tells someone who may see the file why; others got 404 already. */
export function assertServable(row: FileRow): void {
  const status: FileStatus = row.status
  if (status === 'pending') throw new ProblemError(409, FilesErrorCode.pendingScan, 'The file is waiting for the malware scan')
  if (status === 'infected') throw new ProblemError(409, FilesErrorCode.infected, 'The file was found to contain malware')
}

export function contentTypeHeader(type: string): string {
  return type === 'text/plain' ? 'text/plain; charset=utf-8' : type
}

export const contentRoutes: FastifyPluginAsync<{ ctx: FilesContext }> = async (base, { ctx }) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>()

  // GET and HEAD as one route: Fastify's automatic HEAD would read the whole file to discard it.
  app.route({
    method: ['GET', 'HEAD'],
    url: '/:id/content',
    schema: { params: IdParamsSchema, querystring: FileContentQuerySchema },
    handler: async (request, reply) => {
      const { userId } = identityOf(request)
      const row = await ctx.repo.get(request.params.id.toLowerCase())
      if (!row || !(await canRead(request.server.nats, row, userId, callContextOf(request)))) throw problems.notFound('File not found')
      assertServable(row)

      // Only images may be shown inline, and then under the same sandbox; anything else downloads.
      const inline = request.query.disposition === 'inline' && ALLOWED_FILE_TYPES[row.type]?.inline === true
      const etag = `"${row.sha256}"`
      reply
        .header('etag', etag)
        .header('cache-control', 'private, no-cache')
        .header('accept-ranges', 'bytes')
        .headers(securityHeaders('fileContent'))
        .header('content-disposition', contentDisposition(inline ? 'inline' : 'attachment', row.name))
        .header('vary', 'range, if-none-match')

      if (etagMatches(request.headers['if-none-match'], etag)) return reply.code(304).send()

      let start = 0
      let end = row.size - 1
      const ifRange = request.headers['if-range']
      const range = ifRange === undefined || ifRange === etag ? parseRange(request.headers.range, row.size) : { kind: 'none' as const }
      if (range.kind === 'unsatisfiable') {
        throw new ProblemError(416, FilesErrorCode.rangeNotSatisfiable, 'Range not satisfiable', { 'content-range': `bytes */${row.size}` })
      }
      if (range.kind === 'range') {
        start = range.start
        end = range.end
        reply.code(206).header('content-range', `bytes ${start}-${end}/${row.size}`)
      }

      const handle = await ctx.store.open(row.id)
      if (!handle) {
        // Deleted between the lookup and now.
        request.log.warn({ fileId: row.id }, 'file bytes missing')
        throw problems.notFound('File not found')
      }
      reply.type(contentTypeHeader(row.type)).header('content-length', String(end - start + 1))
      if (request.method === 'HEAD') {
        await handle.close()
        return reply.send()
      }
      return reply.send(handle.createReadStream({ start, end, highWaterMark: 256 * 1024 }))
    }
  })
}

import type { Readable } from 'node:stream'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ALLOWED_FILE_TYPES, FileContentQuerySchema, FilesErrorCode, IdParamsSchema, type FileStatus } from '@palisade/contracts'
import { callContextOf, identityOf, ProblemError, problems, securityHeaders } from '@palisade/platform'
import { canRead } from '../access.js'
import type { FilesContext } from '../context.js'
import { IntegrityError } from '../crypto/chunked.js'
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

/**
 * Full reads of files up to this size are verified completely (every chunk and the content hash)
 * before the first byte is sent, so a damaged file gets a proper 500 FILE_INTEGRITY_FAILED. Bigger
 * files are checked while they stream; there the last chunk is held back until the hash matched,
 * so a damaged file is cut off (the client sees an incomplete body) and never delivered whole.
 */
export const VERIFY_BEFORE_SEND_MAX_BYTES = 32 * 1024 * 1024

/**
 * The plaintext of `start..end`, authenticated chunk by chunk. Every integrity failure — before
 * the answer (refused with 500) or during it (connection cut) — is audited and alerted.
 */
export async function openContent(
  ctx: FilesContext,
  request: FastifyRequest,
  row: FileRow,
  start: number,
  end: number,
  actorId: string | null
): Promise<Readable> {
  const actor = { actorId, requestId: String(request.id) }
  const preverify = request.method === 'GET' && start === 0 && end === row.size - 1 && row.size <= VERIFY_BEFORE_SEND_MAX_BYTES
  let body: Readable | undefined
  try {
    const present = preverify ? await ctx.vault.verify(row) : true
    body = present ? await ctx.vault.read(row, start, end) : undefined
  } catch (err) {
    if (err instanceof IntegrityError) throw await ctx.audit.integrityFailure(request.log, row.id, err.message, actor)
    throw err
  }
  if (!body) {
    // Deleted between the lookup and now.
    request.log.warn({ fileId: row.id }, 'file bytes missing')
    throw problems.notFound('File not found')
  }
  body.on('error', (err) => {
    if (err instanceof IntegrityError) void ctx.audit.integrityFailure(request.log, row.id, err.message, actor)
  })
  return body
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

      const body = await openContent(ctx, request, row, start, end, userId)
      reply.type(contentTypeHeader(row.type)).header('content-length', String(end - start + 1))
      if (request.method === 'HEAD') {
        body.destroy()
        return reply.send()
      }
      return reply.send(body)
    }
  })
}

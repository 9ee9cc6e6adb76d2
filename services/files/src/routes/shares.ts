import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import {
  IdParamsSchema,
  SHARE_LINK_DEFAULT_DAYS,
  SHARE_PATHS,
  ShareLinkCreatedSchema,
  ShareLinkCreateSchema,
  ShareLinkListQuerySchema,
  ShareLinkListSchema,
  ShareLinkSchema,
  SharesErrorCode,
  ShareTokenParamsSchema
} from '@palisade/contracts'
import { callContextOf, clientAddress, clientLimitKey, identityOf, problems, securityHeaders } from '@palisade/platform'
import { canRead, isMember } from '../access.js'
import type { FilesContext } from '../context.js'
import { toShareLink } from '../shares/repo.js'
import { renderSnapshot, SNAPSHOT_CSP, takeSnapshot } from '../shares/snapshot.js'
import { contentDisposition } from '../upload/filename.js'
import { contentTypeHeader, openContent } from './content.js'

const isAdmin = (request: FastifyRequest) => identityOf(request).roles.includes('admin')

/**
 * Share links (SHARE_LINKS): members create one for a file they can read, list and revoke their
 * own (admins: everyone's), under /api/files/shares. See `shareOpenRoutes` for opening one.
 */
export const shareRoutes: FastifyPluginAsync<{ ctx: FilesContext }> = async (base, { ctx }) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>()
  const policy = ctx.config.SHARE_LINKS

  app.post('/shares', { schema: { body: ShareLinkCreateSchema, response: { 201: ShareLinkCreatedSchema } } }, async (request, reply) => {
    if (policy === 'off') throw problems.forbidden('Share links are turned off', SharesErrorCode.disabled)
    const { userId } = identityOf(request)
    const body = request.body
    const days = body.expiresInDays ?? SHARE_LINK_DEFAULT_DAYS
    const maxUses = body.maxUses ?? null
    let created: Awaited<ReturnType<typeof ctx.shares.create>>
    if ('fileId' in body) {
      const fileId = body.fileId.toLowerCase()
      const file = await ctx.repo.get(fileId)
      if (!file || !(await canRead(request.server.nats, file, userId, callContextOf(request)))) throw problems.notFound('File not found')
      created = await ctx.shares.create({ kind: 'file', fileId }, userId, days, maxUses)
    } else {
      // Chat answers 404 unless the creator is a member: nobody snapshots a conversation they are not in.
      const conversationId = body.conversationId.toLowerCase()
      const snapshot = await takeSnapshot(request.server.nats, callContextOf(request), conversationId, body.messageIds)
      created = await ctx.shares.create({ kind: 'conversation', conversationId, snapshot }, userId, days, maxUses)
    }
    const { token, row } = created
    await ctx.audit.record('share.created', {
      fileId: row.fileId,
      actorId: userId,
      requestId: String(request.id),
      detail: { linkId: row.id, kind: row.kind, ...(row.conversationId ? { conversationId: row.conversationId } : {}) }
    })
    const prefix = policy === 'public' ? SHARE_PATHS.public : SHARE_PATHS.signedIn
    // The token is in this answer only: never logged (the body is not), never stored.
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .send({ link: toShareLink(row), token, path: `${prefix}/${token}` })
  })

  app.get('/shares', { schema: { querystring: ShareLinkListQuerySchema, response: { 200: ShareLinkListSchema } } }, async (request) => {
    const { userId } = identityOf(request)
    if (request.query.all && !isAdmin(request)) throw problems.forbidden('Only admins list every share link')
    const rows = await ctx.shares.list(request.query.limit ?? 50, request.query.all ? undefined : userId)
    return { links: rows.map(toShareLink) }
  })

  app.delete('/shares/:id', { schema: { params: IdParamsSchema, response: { 200: ShareLinkSchema } } }, async (request) => {
    const { userId } = identityOf(request)
    const id = request.params.id.toLowerCase()
    const link = await ctx.shares.get(id)
    if (!link || (link.creatorId !== userId && !isAdmin(request))) throw problems.notFound('Share link not found')
    const row = (await ctx.shares.revoke(id, userId))!
    await ctx.audit.record('share.revoked', { fileId: row.fileId, actorId: userId, requestId: String(request.id), detail: { linkId: row.id } })
    return toShareLink(row)
  })
}

/**
 * Opening a link: `/api/files/shared/<token>` (forward-authed: any account) unless SHARE_LINKS=off,
 * `/s/<token>` (public route, no session) only with SHARE_LINKS=public. Every refusal — unknown,
 * expired, revoked or used-up token, file deleted or not servable, creator no longer allowed to
 * read the file — is the same 404. The file is always an attachment under a sandbox CSP, with no
 * referrer, no indexing, no caching and no cookie; opens are rate-limited per client address and
 * audited with the link's id (never the token).
 */
export const shareOpenRoutes: FastifyPluginAsync<{ ctx: FilesContext }> = async (base, { ctx }) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>()
  const policy = ctx.config.SHARE_LINKS
  const rateLimit = { max: ctx.config.SHARE_LINKS_OPENS_PER_MINUTE, timeWindow: 60_000, keyGenerator: (req: FastifyRequest) => `share:${clientLimitKey(req)}` }

  async function open(request: FastifyRequest, token: string, reply: FastifyReply, via: 'public' | 'signed-in', viewer: string | null) {
    const gone = () => problems.notFound('Share link not found')
    if (policy === 'off' || (via === 'public' && policy !== 'public')) throw gone()
    const link = await ctx.shares.consume(token)
    if (!link) throw gone()
    const audit = { linkId: link.id, via, address: clientAddress(request) }
    if (link.kind === 'conversation') {
      // The creator must still be a member (a deleted conversation has none): else the link is dead.
      const callCtx = { userId: link.creatorId, requestId: String(request.id) }
      if (!link.snapshot || !link.conversationId || !(await isMember(request.server.nats, link.creatorId, link.conversationId, callCtx))) throw gone()
      await ctx.audit.record('share.opened', { actorId: viewer, requestId: String(request.id), detail: { ...audit, conversationId: link.conversationId } })
      return reply
        .header('content-security-policy', SNAPSHOT_CSP)
        .header('referrer-policy', 'no-referrer')
        .header('x-robots-tag', 'noindex, nofollow, noarchive')
        .header('cache-control', 'no-store')
        .header('x-content-type-options', 'nosniff')
        .header('x-frame-options', 'DENY')
        .type('text/html; charset=utf-8')
        .send(renderSnapshot(link.snapshot))
    }
    if (!link.fileId) throw gone()
    const file = await ctx.repo.get(link.fileId)
    if (!file || file.status === 'pending' || file.status === 'infected') throw gone()
    // The link dies with its creator's access: removed from the conversation, the file unshared.
    if (!(await canRead(request.server.nats, file, link.creatorId, { userId: link.creatorId, requestId: String(request.id) }))) throw gone()
    await ctx.audit.record('share.opened', { fileId: file.id, actorId: viewer, requestId: String(request.id), detail: audit })
    const body = await openContent(ctx, request, file, 0, file.size - 1, viewer)
    return reply
      .headers(securityHeaders('fileContent'))
      .header('content-disposition', contentDisposition('attachment', file.name))
      .header('referrer-policy', 'no-referrer')
      .header('x-robots-tag', 'noindex, nofollow, noarchive')
      .header('cache-control', 'no-store')
      .type(contentTypeHeader(file.type))
      .header('content-length', String(file.size))
      .send(body)
  }

  // No automatic HEAD: it would count as an opening and read the file for nothing.
  const schema = { params: ShareTokenParamsSchema }
  app.get(`${SHARE_PATHS.signedIn}/:token`, { schema, exposeHeadRoute: false, config: { rateLimit } }, (request, reply) =>
    open(request, request.params.token, reply, 'signed-in', identityOf(request).userId)
  )
  app.get(`${SHARE_PATHS.public}/:token`, { schema, exposeHeadRoute: false, config: { public: true, rateLimit } }, (request, reply) =>
    open(request, request.params.token, reply, 'public', null)
  )
}

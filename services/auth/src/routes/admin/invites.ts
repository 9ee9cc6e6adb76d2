import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { CreatedInviteSchema, CreateInviteBodySchema, ErrorCode, IdParamsSchema, InviteListSchema, ProblemSchema } from '@palisade/contracts'
import { identityOf, ProblemError, problems } from '@palisade/platform'
import { createInvite, invitePath, listInvites, revokeInvite } from '../../lib/invites.js'
import { routeBodyLimit } from '../../lib/http.js'
import { normaliseEmail } from '../credentials.js'
import type { AdminRoutesOptions } from './index.js'

/** Invites: created, listed and revoked by admins; used once by `POST /auth/register {invite}`. */
export const adminInviteRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (root, { core, ipOf }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  const bodyLimit = routeBodyLimit('/auth/admin')

  app.post(
    '/auth/admin/invites',
    {
      bodyLimit,
      preValidation: async (request) => {
        const b = request.body as { email?: unknown } | null
        if (b && typeof b === 'object' && typeof b.email === 'string') b.email = b.email.trim()
      },
      schema: { body: CreateInviteBodySchema, response: { 201: CreatedInviteSchema, '4xx': ProblemSchema } }
    },
    async (request, reply) => {
      if (core.config.AUTH_REGISTRATION === 'closed') {
        throw new ProblemError(409, ErrorCode.registrationClosed, 'Registration is closed (AUTH_REGISTRATION=closed): an invite could not be used')
      }
      const actor = identityOf(request)
      const email = request.body.email === undefined ? null : normaliseEmail(request.body.email)
      const { invite, token } = await createInvite(core.pool, actor.userId, email, request.body.ttlHours ?? 72)
      await core.audit({
        event: 'admin.invite_created',
        userId: actor.userId,
        sessionId: actor.sessionId,
        ip: ipOf(request),
        details: { invite: invite.id, boundToEmail: email !== null, expiresAt: invite.expiresAt }
      })
      reply.header('cache-control', 'no-store')
      return reply.code(201).send({ invite, token, path: invitePath(token) })
    }
  )

  app.get('/auth/admin/invites', { schema: { response: { 200: InviteListSchema, '4xx': ProblemSchema } } }, async () => ({
    invites: await listInvites(core.pool)
  }))

  app.delete(
    '/auth/admin/invites/:id',
    { bodyLimit, schema: { params: IdParamsSchema, response: { 204: Type.Null(), '4xx': ProblemSchema } } },
    async (request, reply) => {
      const actor = identityOf(request)
      const id = request.params.id.toLowerCase()
      if (!(await revokeInvite(core.pool, id))) throw problems.notFound('No unused invite with this id')
      await core.audit({ event: 'admin.invite_revoked', userId: actor.userId, sessionId: actor.sessionId, ip: ipOf(request), details: { invite: id } })
      return reply.code(204).send(null)
    }
  )
}

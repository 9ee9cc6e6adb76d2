import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { CreatedTokenSchema, CreateTokenBodySchema, ErrorCode, IdParamsSchema, ProblemSchema, TokenListSchema } from '@palisade/contracts'
import { identityOf, problems } from '@palisade/platform'
import type { AuthCore } from '../lib/core.js'
import { routeBodyLimit } from '../lib/http.js'
import { createPersonalToken, listPersonalTokens, revokePersonalTokens } from '../lib/personal-tokens.js'
import { assertRecentAuthentication } from '../lib/step-up.js'

export interface TokenRoutesOptions {
  core: AuthCore
  ipOf: (request: FastifyRequest) => string
}

/**
 * Personal access tokens of the signed-in user (registered inside the account routes: identity and
 * live-session checks apply). The route table gives tokens no scope on /auth/tokens, so only a
 * browser session gets here: a token never lists, mints or revokes tokens.
 * - `GET /auth/tokens` → the tokens that still work, with last use and last four characters.
 * - `POST /auth/tokens` → the new token, shown this once; needs step-up, and `admin` needs an admin.
 * - `DELETE /auth/tokens/:id` → revoked everywhere at once (sockets included); 404 if not yours.
 */
export const tokenRoutes: FastifyPluginAsync<TokenRoutesOptions> = async (root, { core, ipOf }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  const bodyLimit = routeBodyLimit('/auth/tokens')

  app.get('/auth/tokens', { schema: { response: { 200: TokenListSchema, '4xx': ProblemSchema } } }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    return { tokens: await listPersonalTokens(core, identityOf(request).userId) }
  })

  app.post(
    '/auth/tokens',
    { bodyLimit, schema: { body: CreateTokenBodySchema, response: { 201: CreatedTokenSchema, '4xx': ProblemSchema } } },
    async (request, reply) => {
      const id = identityOf(request)
      await assertRecentAuthentication(core, id)
      if (request.body.scopes.includes('admin')) {
        // The database's roles, not the assertion's: a role removed a moment ago counts.
        const user = await core.findUserById(id.userId)
        if (!user?.roles.includes('admin')) throw problems.forbidden('Only administrators can create admin tokens', ErrorCode.forbidden)
      }
      const created = await createPersonalToken(core, id.userId, request.body)
      await core.audit({
        event: 'token.created',
        userId: id.userId,
        sessionId: id.sessionId,
        ip: ipOf(request),
        details: { token: created.info.id, scopes: created.info.scopes.join(','), expiresAt: created.info.expiresAt }
      })
      return reply.code(201).header('cache-control', 'no-store').send(created)
    }
  )

  app.delete(
    '/auth/tokens/:id',
    { bodyLimit, schema: { params: IdParamsSchema, response: { 204: Type.Null(), '4xx': ProblemSchema } } },
    async (request, reply) => {
      const id = identityOf(request)
      const revoked = await revokePersonalTokens(core, id.userId, [request.params.id.toLowerCase()])
      if (revoked.length === 0) throw problems.notFound('Token not found')
      await core.audit({ event: 'token.revoked', userId: id.userId, sessionId: id.sessionId, ip: ipOf(request), details: { token: revoked[0]! } })
      return reply.code(204).send(null)
    }
  )
}

import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { IdParamsSchema, OidcIdentityListSchema, OidcLinkResponseSchema, OidcProviderParamsSchema, ProblemSchema } from '@palisade/contracts'
import { identityOf, problems } from '@palisade/platform'
import type { AuthCore } from '../lib/core.js'
import { routeBodyLimit } from '../lib/http.js'
import { providerOf, type OidcProvider } from '../lib/oidc/providers.js'
import { startFlow } from '../lib/oidc/flow.js'
import { hasPassword, listIdentities, unlinkIdentity } from '../lib/oidc/accounts.js'
import { assertRecentAuthentication } from '../lib/step-up.js'

export interface IdentityRoutesOptions {
  core: AuthCore
  providers: ReadonlyMap<string, OidcProvider>
  origin: string
  ipOf: (request: FastifyRequest) => string
}

/**
 * The signed-in user's OpenID identities (inside the account routes: identity and live-session
 * checks apply; the route table gives tokens no scope here, so only browser sessions get in).
 * - `GET /auth/identities` → linked identities, and whether the account has a password.
 * - `POST /auth/identities/:provider/link` → the provider URL of a flow bound to this session; step-up.
 * - `DELETE /auth/identities/:id` → unlinked, unless it is the last way to sign in (409).
 */
export const identityRoutes: FastifyPluginAsync<IdentityRoutesOptions> = async (root, { core, providers, origin, ipOf }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  const bodyLimit = routeBodyLimit('/auth/identities')
  const bodiless = async (request: { body: unknown }) => {
    if (request.body === undefined || request.body === null) request.body = {}
  }

  app.get('/auth/identities', { schema: { response: { 200: OidcIdentityListSchema, '4xx': ProblemSchema } } }, async (request, reply) => {
    const { userId } = identityOf(request)
    const user = await core.findUserById(userId)
    if (!user) throw problems.unauthenticated()
    reply.header('cache-control', 'no-store')
    return { identities: await listIdentities(core.pool, userId), hasPassword: hasPassword(user.passwordHash) }
  })

  app.post(
    '/auth/identities/:provider/link',
    {
      bodyLimit,
      preValidation: bodiless,
      schema: {
        params: OidcProviderParamsSchema,
        body: Type.Object({}, { additionalProperties: false }),
        response: { 200: OidcLinkResponseSchema, '4xx': ProblemSchema }
      }
    },
    async (request, reply) => {
      const id = identityOf(request)
      const provider = providerOf(providers, request.params.provider)
      await assertRecentAuthentication(core, id)
      const url = await startFlow(core.pool, reply, provider, origin, '/?link=ok', { kind: 'link', userId: id.userId, sessionId: id.sessionId })
      reply.header('cache-control', 'no-store')
      return { url }
    }
  )

  app.delete(
    '/auth/identities/:id',
    { bodyLimit, schema: { params: IdParamsSchema, response: { 204: Type.Null(), '4xx': ProblemSchema } } },
    async (request, reply) => {
      const id = identityOf(request)
      await unlinkIdentity(core.pool, id.userId, request.params.id.toLowerCase())
      await core.audit({ event: 'oidc.unlinked', userId: id.userId, sessionId: id.sessionId, ip: ipOf(request), details: { identity: request.params.id } })
      return reply.code(204).send(null)
    }
  )
}

import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import {
  ErrorCode,
  OidcBackchannelBodySchema,
  OidcProviderListSchema,
  OidcProviderParamsSchema,
  OidcStartQuerySchema,
  ProblemSchema
} from '@palisade/contracts'
import { clientLimitKey, ProblemError } from '@palisade/platform'
import type { AuthCore } from '../lib/core.js'
import type { AuthConfig } from '../config.js'
import { providerOf, type OidcProvider } from '../lib/oidc/providers.js'
import { finishFlow, startFlow, takeFlow } from '../lib/oidc/flow.js'
import { accountOfIdentity, createAccountForIdentity, linkIdentity, providerDidMfa } from '../lib/oidc/accounts.js'
import { safeNext } from './verify.js'
import { backchannelLogout, rememberProviderSession } from '../lib/oidc/backchannel.js'
import { startLoginSession } from '../lib/login-session.js'
import { routeBodyLimit } from '../lib/http.js'
import { ACCOUNT_DISABLED_MESSAGE } from '../lib/sessions.js'
import { secondStepFor, type MfaDeps } from '../lib/mfa.js'
import { issueTicket, setTicketCookie } from '../lib/mfa-ticket.js'

export interface OidcRoutesOptions {
  core: AuthCore
  config: AuthConfig
  providers: ReadonlyMap<string, OidcProvider>
  origin: string
  ipOf: (request: FastifyRequest) => string
  mfa: MfaDeps
}

/** Public OIDC endpoints: the provider list, the start of a sign-in, and the provider's callback. */
export const oidcRoutes: FastifyPluginAsync<OidcRoutesOptions> = async (root, opts) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  const { core, config, providers, origin, ipOf } = opts
  const rateLimit = { max: config.AUTH_RATE_LIMIT_PER_MINUTE, timeWindow: 60_000, keyGenerator: (req: FastifyRequest) => `auth-ip:${clientLimitKey(req)}` }

  app.get('/auth/oidc/providers', { config: { public: true }, schema: { response: { 200: OidcProviderListSchema } } }, async () => ({
    providers: [...providers.values()].map((p) => ({ id: p.settings.id, name: p.settings.name }))
  }))

  // The provider POSTs a form (logout_token=…): parsed here only, as a plain string map.
  root.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })

  app.post(
    '/auth/oidc/backchannel-logout',
    {
      bodyLimit: routeBodyLimit('/auth/oidc'),
      config: { public: true, rateLimit },
      schema: { body: OidcBackchannelBodySchema, response: { 200: Type.Null(), '4xx': ProblemSchema } }
    },
    async (request, reply) => {
      const ended = await backchannelLogout(core, providers, request.body.logout_token)
      await core.audit({ event: 'oidc.backchannel_logout', ip: ipOf(request), details: { sessions: ended } })
      return reply.code(200).header('cache-control', 'no-store').send(null)
    }
  )

  app.get(
    '/auth/oidc/:provider/start',
    {
      config: { public: true, rateLimit },
      schema: { params: OidcProviderParamsSchema, querystring: OidcStartQuerySchema, response: { '4xx': ProblemSchema } }
    },
    async (request, reply) => {
      const provider = providerOf(providers, request.params.provider)
      const url = await startFlow(core.pool, reply, provider, origin, safeNext(request.query.next), { kind: 'login' })
      return reply.header('cache-control', 'no-store').redirect(url, 302)
    }
  )

  app.get(
    '/auth/oidc/:provider/callback',
    // The provider adds code, state, iss, session_state…: the query is read by openid-client, not here.
    { config: { public: true, rateLimit }, schema: { params: OidcProviderParamsSchema, response: { '4xx': ProblemSchema } } },
    async (request, reply) => {
      const provider = providerOf(providers, request.params.provider)
      const ip = ipOf(request)
      const flow = await takeFlow(core.pool, request, reply, provider.settings.id)
      let identity
      try {
        identity = await finishFlow(provider, flow, new URL(request.url, origin))
      } catch (err) {
        await core.audit({ event: 'oidc.failed', ip, details: { provider: provider.settings.id } })
        throw err
      }
      reply.header('cache-control', 'no-store')
      if (flow.intent.kind === 'link') {
        const { userId, sessionId } = flow.intent
        if (!(await core.sessionActive(userId, sessionId))) throw new ProblemError(401, ErrorCode.sessionRevoked, 'Session revoked')
        await linkIdentity(core.pool, userId, provider, identity)
        await core.audit({ event: 'oidc.linked', userId, sessionId, ip, details: { provider: provider.settings.id } })
        return reply.redirect(flow.next, 302)
      }
      let userId = await accountOfIdentity(core.pool, identity)
      if (!userId) {
        const created = await createAccountForIdentity(core.pool, config, provider, identity)
        userId = created.id
        await core.audit({ event: 'user.registered', userId, ip, details: { role: created.roles[0]!, via: `oidc:${provider.settings.id}` } })
      }
      const user = await core.findUserById(userId)
      if (!user) throw new ProblemError(401, ErrorCode.oidcFailed, 'The sign-in did not complete; please start again')
      if (user.disabledAt) {
        await core.audit({ event: 'login.refused_disabled', userId, ip })
        throw new ProblemError(403, ErrorCode.accountDisabled, ACCOUNT_DISABLED_MESSAGE)
      }
      // The provider's own MFA counts only where ops said so; otherwise Palisade's second step applies.
      const next = providerDidMfa(provider, identity) ? undefined : await secondStepFor(opts.mfa, user)
      if (next) {
        setTicketCookie(reply, await issueTicket(core.pool, user.id, next.purpose))
        await core.audit({ event: 'login.oidc_ok', userId, ip, details: { next: next.purpose, via: `oidc:${provider.settings.id}` } })
        return reply.redirect(`/login?second=${next.purpose}&next=${encodeURIComponent(flow.next)}&methods=${next.methods.join(',')}`, 302)
      }
      const session = await startLoginSession(core, config, request, reply, user.id, ip, `oidc:${provider.settings.id}`)
      await rememberProviderSession(core.pool, session.sessionId, user.id, identity)
      return reply.redirect(flow.next, 302)
    }
  )
}

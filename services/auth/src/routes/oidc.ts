import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import {
  ErrorCode,
  OIDC_LOGIN_ERRORS,
  OidcBackchannelBodySchema,
  OidcFrontchannelQuerySchema,
  OidcProviderListSchema,
  OidcProviderParamsSchema,
  OidcStartQuerySchema,
  ProblemSchema
} from '@palisade/contracts'
import { clientLimitKey, ProblemError, securityHeaders } from '@palisade/platform'
import type { AuthCore } from '../lib/core.js'
import type { AuthConfig } from '../config.js'
import { providerOf, type OidcProvider } from '../lib/oidc/providers.js'
import { finishFlow, startFlow, takeFlow } from '../lib/oidc/flow.js'
import { accountOfIdentity, createAccountForIdentity, inAllowedGroup, linkIdentity, providerDidMfa, syncRole } from '../lib/oidc/accounts.js'
import { isNavigation, safeNext } from './verify.js'
import { frontchannelLogout } from '../lib/oidc/frontchannel.js'
import { backchannelLogout } from '../lib/oidc/backchannel.js'
import { rememberProviderSession } from '../lib/oidc/provider-sessions.js'
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

const SIGNED_OUT_PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head><body>Signed out of Palisade.</body></html>'
const LOGIN_ERRORS = new Set<string>(OIDC_LOGIN_ERRORS)
/** callbacks whose flow was a link from a signed-in session (their errors go back to the app) */
const linkAttempts = new WeakSet<FastifyRequest>()

/**
 * A failed callback: API clients (asking for JSON) get the problem; a browser goes back to the
 * login page with the error's code, one of OIDC_LOGIN_ERRORS (the page maps it to a message; no
 * text from the request or the provider is ever reflected).
 */
function callbackError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (!isNavigation(request)) throw error
  // A link attempt comes from the signed-in app, which shows the outcome on the account page.
  const page = linkAttempts.has(request) ? '/?link=' : '/login?error='
  const status = error.statusCode ?? 500
  if (status >= 500) request.log.error({ err: error }, 'OIDC callback failed')
  const code = status === 429 ? ErrorCode.tooManyRequests : error.code && LOGIN_ERRORS.has(error.code) ? error.code : ErrorCode.oidcFailed
  return reply.headers({ 'cache-control': 'no-store', ...securityHeaders('authRedirect') }).redirect(`${page}${code}`, 302)
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

  // Front-channel logout: loaded by the provider's logout page in an iframe. The answer may be
  // framed by that provider only; X-Frame-Options stays DENY for browsers that predate
  // frame-ancestors (CSP3: a frame-ancestors directive makes browsers ignore it).
  app.get(
    '/auth/oidc/frontchannel-logout',
    {
      config: { public: true, rateLimit },
      schema: { querystring: OidcFrontchannelQuerySchema, response: { 200: Type.String(), '4xx': ProblemSchema } }
    },
    async (request, reply) => {
      const { iss, sid } = request.query
      const out = await frontchannelLogout(core, providers, iss, sid)
      if (!out) throw new ProblemError(400, ErrorCode.oidcFailed, 'Unknown issuer')
      await core.audit({ event: 'oidc.frontchannel_logout', ip: ipOf(request), details: { provider: out.provider.settings.id, sessions: out.ended } })
      return reply
        .code(200)
        .header('cache-control', 'no-cache, no-store')
        .header('content-security-policy', `default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors ${out.frameAncestors.join(' ')}`)
        .type('text/html; charset=utf-8')
        .send(SIGNED_OUT_PAGE)
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
    {
      config: { public: true, rateLimit },
      schema: { params: OidcProviderParamsSchema, response: { '4xx': ProblemSchema } },
      errorHandler: (error, request, reply) => callbackError(error, request, reply)
    },
    async (request, reply) => {
      const provider = providerOf(providers, request.params.provider)
      const ip = ipOf(request)
      const flow = await takeFlow(core.pool, request, reply, provider.settings.id)
      if (flow.intent.kind === 'link') linkAttempts.add(request)
      let identity
      try {
        identity = await finishFlow(provider, flow, new URL(request.url, origin))
      } catch (err) {
        await core.audit({ event: 'oidc.failed', ip, details: { provider: provider.settings.id } })
        throw err
      }
      reply.header('cache-control', 'no-store')
      if (!inAllowedGroup(provider, identity)) {
        await core.audit({ event: 'oidc.refused', ip, details: { provider: provider.settings.id, reason: 'group' } })
        throw new ProblemError(403, ErrorCode.oidcGroupNotAllowed, 'Your account at the provider is not in a group allowed to sign in here')
      }
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
      let user = await core.findUserById(userId)
      if (!user) throw new ProblemError(401, ErrorCode.oidcFailed, 'The sign-in did not complete; please start again')
      if (user.disabledAt) {
        await core.audit({ event: 'login.refused_disabled', userId, ip })
        throw new ProblemError(403, ErrorCode.accountDisabled, ACCOUNT_DISABLED_MESSAGE)
      }
      // Before the second-step decision: AUTH_REQUIRE_MFA=admins asks by role.
      if (await syncRole(core, provider, userId, identity, ip)) user = (await core.findUserById(userId)) ?? user
      // The provider's own MFA counts only where ops said so; otherwise Palisade's second step applies.
      const next = providerDidMfa(provider, identity) ? undefined : await secondStepFor(opts.mfa, user)
      if (next) {
        setTicketCookie(reply, await issueTicket(core.pool, user.id, next.purpose, identity))
        await core.audit({ event: 'login.oidc_ok', userId, ip, details: { next: next.purpose, via: `oidc:${provider.settings.id}` } })
        return reply.redirect(`/login?second=${next.purpose}&next=${encodeURIComponent(flow.next)}&methods=${next.methods.join(',')}`, 302)
      }
      const session = await startLoginSession(core, config, request, reply, user.id, ip, `oidc:${provider.settings.id}`)
      await rememberProviderSession(core.pool, session.sessionId, user.id, identity)
      return reply.redirect(flow.next, 302)
    }
  )
}

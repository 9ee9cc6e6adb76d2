import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ChangePasswordBodySchema, ErrorCode, IdParamsSchema, ProblemSchema, SessionListSchema, UserSchema } from '@palisade/contracts'
import { identityOf, identityPlugin, ipLimitKey, JwksCache, ProblemError, problems } from '@palisade/platform'
import { eq, sql } from 'drizzle-orm'
import { users } from '../db/schema.js'
import type { AuthCore } from '../lib/core.js'
import type { AuthConfig } from '../config.js'
import { hashPassword, passwordWeakness, verifyPassword } from '../lib/passwords.js'
import { loginAttempt } from '../lib/throttle.js'
import { clearSessionCookies, routeBodyLimit } from '../lib/http.js'
import { userView } from './credentials.js'
import { userDirectoryRoutes } from './users.js'
import { adminRoutes } from './admin/index.js'
import { liveSessions } from '../lib/session-view.js'
import { factorRoutes } from './factors.js'
import { tokenRoutes } from './tokens.js'
import type { MfaDeps } from '../lib/mfa.js'
import { assertRecentAuthentication } from '../lib/step-up.js'
import { identityRoutes } from './identities.js'
import type { OidcProvider } from '../lib/oidc/providers.js'

export interface AccountRoutesOptions {
  core: AuthCore
  config: AuthConfig
  ipOf: (request: FastifyRequest) => string
  mfa: MfaDeps
  oidc: { providers: ReadonlyMap<string, OidcProvider>; origin: string }
}

/**
 * The forward-authed endpoints (/auth/me, /auth/users, /auth/sessions, /auth/password, /auth/logout-all).
 * Auth trusts them exactly like every other service trusts its routes: the proxy-stamped
 * `X-Authenticated-User` must come with an assertion auth signed for audience `auth` (checked
 * against auth's own keys, no NATS round trip) — a sibling on the internal network cannot forge
 * a user here either. On top, the session must still be alive in the database.
 */
export const accountRoutes: FastifyPluginAsync<AccountRoutesOptions> = async (root, opts) => {
  const { core, config, ipOf } = opts
  await root.register(identityPlugin, { service: 'auth', issuer: config.AUTH_ISSUER, jwks: new JwksCache(async () => core.keys.jwks) })
  root.addHook('onRequest', async (request) => {
    if (request.routeOptions.config?.public) return
    const id = identityOf(request)
    if (!(await core.sessionActive(id.userId, id.sessionId))) throw new ProblemError(401, ErrorCode.sessionRevoked, 'Session revoked')
  })
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  await root.register(userDirectoryRoutes, { core, config })
  await root.register(adminRoutes, { core, ipOf })
  await root.register(factorRoutes, { core, mfa: opts.mfa, ipOf })
  await root.register(tokenRoutes, { core, ipOf })
  await root.register(identityRoutes, { core, ipOf, ...opts.oidc })

  app.get('/auth/me', { schema: { response: { 200: UserSchema, '4xx': ProblemSchema } } }, async (request) => {
    const user = await core.findUserById(identityOf(request).userId)
    if (!user) throw problems.unauthenticated()
    return userView(user)
  })

  app.get('/auth/sessions', { schema: { response: { 200: SessionListSchema, '4xx': ProblemSchema } } }, async (request) => {
    const id = identityOf(request)
    return { sessions: await liveSessions(core, id.userId, id.sessionId) }
  })

  app.delete(
    '/auth/sessions/:id',
    { bodyLimit: routeBodyLimit('/auth/sessions'), schema: { params: IdParamsSchema, response: { 204: Type.Null(), '4xx': ProblemSchema } } },
    async (request, reply) => {
      const id = identityOf(request)
      // Someone else's session (or none) answers 404, exactly like one that does not exist.
      const revoked = await core.revokeSessions(id.userId, 'session-deleted', { sessionIds: [request.params.id.toLowerCase()] })
      if (revoked.length === 0) throw problems.notFound('Session not found')
      await core.audit({ event: 'session.revoked', userId: id.userId, sessionId: revoked[0]!, ip: ipOf(request), details: { by: id.sessionId } })
      if (revoked[0] === id.sessionId) clearSessionCookies(reply)
      return reply.code(204).send(null)
    }
  )

  app.post(
    '/auth/logout-all',
    { bodyLimit: routeBodyLimit('/auth/logout-all'), schema: { response: { 204: Type.Null(), '4xx': ProblemSchema } } },
    async (request, reply) => {
      const id = identityOf(request)
      const revoked = await core.revokeSessions(id.userId, 'logout-all', {})
      await core.audit({ event: 'logout.all', userId: id.userId, sessionId: id.sessionId, ip: ipOf(request), details: { sessions: revoked.length } })
      clearSessionCookies(reply)
      return reply.code(204).send(null)
    }
  )

  app.post(
    '/auth/password',
    { bodyLimit: routeBodyLimit('/auth/password'), schema: { body: ChangePasswordBodySchema, response: { 204: Type.Null(), '4xx': ProblemSchema } } },
    async (request, reply) => {
      const id = identityOf(request)
      const ip = ipOf(request)
      const user = await core.findUserById(id.userId)
      if (!user) throw problems.unauthenticated()
      await assertRecentAuthentication(core, id)
      // Guessing the current password from a stolen session counts against the account like login does.
      const attempt = await loginAttempt(core.pool, { maxAddressFailures: config.AUTH_LOGIN_FAILURES_PER_ADDRESS }, user.email, ipLimitKey(ip), () =>
        verifyPassword(user.passwordHash, request.body.currentPassword)
      )
      if (attempt.throttled) {
        await core.audit({
          event: 'login.throttled',
          userId: user.id,
          sessionId: id.sessionId,
          ip,
          details: { via: 'password-change', reason: attempt.reason, retryAfter: attempt.retryAfterSeconds }
        })
        throw problems.tooMany(attempt.retryAfterSeconds, 'Too many failed attempts; try again later')
      }
      if (!attempt.ok) {
        await core.audit({ event: 'password.change_failed', userId: user.id, sessionId: id.sessionId, ip })
        throw new ProblemError(403, ErrorCode.invalidCredentials, 'Current password is wrong')
      }
      const { newPassword } = request.body
      if (newPassword === request.body.currentPassword) throw new ProblemError(400, ErrorCode.weakPassword, 'The new password must differ from the current one')
      const weak = passwordWeakness(newPassword, user.email)
      if (weak) throw new ProblemError(400, ErrorCode.weakPassword, weak)
      await core.db
        .update(users)
        .set({ passwordHash: await hashPassword(newPassword), passwordChangedAt: sql`now()` })
        .where(eq(users.id, user.id))
      const revoked = await core.revokeSessions(user.id, 'password-changed', { exceptSessionId: id.sessionId })
      await core.audit({ event: 'password.changed', userId: user.id, sessionId: id.sessionId, ip, details: { revokedSessions: revoked.length } })
      return reply.code(204).send(null)
    }
  )
}

import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import {
  AUTH_COOKIES,
  ErrorCode,
  LoginBodySchema,
  LoginResponseSchema,
  MFA_TICKET_TTL_SECONDS,
  MfaChallengeResponseSchema,
  ProblemSchema,
  RefreshBodySchema,
  RefreshResponseSchema,
  RegisterBodySchema,
  type Role,
  UserSchema
} from '@palisade/contracts'
import { clientLimitKey, ipLimitKey, ProblemError, problems } from '@palisade/platform'
import type { AuthCore } from '../lib/core.js'
import type { UserRow } from '../lib/users.js'
import type { AuthConfig } from '../config.js'
import { hashPassword, passwordWeakness, verifyPassword } from '../lib/passwords.js'
import { loginAttempt } from '../lib/throttle.js'
import { createAccount } from '../lib/registration.js'
import { ACCOUNT_DISABLED_MESSAGE } from '../lib/sessions.js'
import { sha256 } from '../lib/refresh-token.js'
import { bearerToken, checkOrigin, clearSessionCookies, routeBodyLimit, setSessionCookies } from '../lib/http.js'
import { startLoginSession } from '../lib/login-session.js'
import { secondStepFor, type MfaDeps, type SecondStep } from '../lib/mfa.js'
import { issueTicket, setTicketCookie } from '../lib/mfa-ticket.js'

export interface CredentialRoutesOptions {
  core: AuthCore
  config: AuthConfig
  dummyHash: string
  allowedOrigins: ReadonlySet<string>
  ipOf: (request: FastifyRequest) => string
  mfa: MfaDeps
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase()
}

export function userView(u: UserRow) {
  return { id: u.id, email: u.email, displayName: u.displayName, roles: u.roles as Role[], createdAt: u.createdAt.toISOString() }
}

const INVALID_CREDENTIALS = 'Invalid email or password'

/** The public endpoints: register, login, refresh, logout. Rate limited per client address. */
export const credentialRoutes: FastifyPluginAsync<CredentialRoutesOptions> = async (root, opts) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  const { core, config, allowedOrigins, ipOf } = opts
  const rateLimit = { max: config.AUTH_RATE_LIMIT_PER_MINUTE, timeWindow: 60_000, keyGenerator: (req: FastifyRequest) => `auth-ip:${clientLimitKey(req)}` }
  const loginLimits = { maxAddressFailures: config.AUTH_LOGIN_FAILURES_PER_ADDRESS }

  // A bodiless POST (browser refresh/logout) is validated as an empty object, not rejected.
  const emptyBodyIsObject = async (request: { body: unknown }) => {
    if (request.body === undefined || request.body === null) request.body = {}
  }

  app.post(
    '/auth/register',
    {
      bodyLimit: routeBodyLimit('/auth/register'),
      config: { public: true, rateLimit },
      // Normalisation starts before validation: ' Alice@Example.com ' is a valid way to type an address.
      preValidation: async (request: { body: unknown }) => {
        const b = request.body as { email?: unknown } | null
        if (b && typeof b === 'object' && typeof b.email === 'string') b.email = b.email.trim()
      },
      schema: { body: RegisterBodySchema, response: { 201: UserSchema, '4xx': ProblemSchema } }
    },
    async (request, reply) => {
      checkOrigin(request, allowedOrigins, false)
      const email = normaliseEmail(request.body.email)
      const { password, displayName } = request.body
      const weak = passwordWeakness(password, email)
      if (weak) throw new ProblemError(400, ErrorCode.weakPassword, weak)
      const passwordHash = await hashPassword(password)
      const name = displayName.trim() || displayName
      const created = await createAccount(
        core.pool,
        { email, displayName: name, passwordHash },
        { as: 'self', mode: config.AUTH_REGISTRATION, invite: request.body.invite }
      )
      const { id } = created
      await core.audit({ event: 'user.registered', userId: id, ip: ipOf(request), details: { role: created.roles[0]!, invite: created.inviteId } })
      return reply.code(201).send({ id, email, displayName: name, roles: created.roles, createdAt: created.createdAt.toISOString() })
    }
  )

  app.post(
    '/auth/login',
    {
      bodyLimit: routeBodyLimit('/auth/login'),
      config: { public: true, rateLimit },
      schema: { body: LoginBodySchema, response: { 200: Type.Union([LoginResponseSchema, MfaChallengeResponseSchema]), '4xx': ProblemSchema } }
    },
    async (request, reply) => {
      checkOrigin(request, allowedOrigins, false)
      const account = normaliseEmail(request.body.email)
      const ip = ipOf(request)
      const accountRef = sha256(account).slice(0, 16)
      let user: UserRow | undefined
      let next: SecondStep | undefined
      const attempt = await loginAttempt(
        core.pool,
        loginLimits,
        account,
        ipLimitKey(ip),
        async () => {
          user = await core.findUserByEmail(account)
          // Unknown accounts verify against a dummy hash: same work, same time, same answer.
          const passwordOk = await verifyPassword(user?.passwordHash ?? opts.dummyHash, request.body.password)
          if (user !== undefined && passwordOk) next = await secondStepFor(opts.mfa, user)
          return user !== undefined && passwordOk
        },
        () => next !== undefined
      )
      if (attempt.throttled) {
        await core.audit({ event: 'login.throttled', ip, details: { account: accountRef, reason: attempt.reason, retryAfter: attempt.retryAfterSeconds } })
        throw problems.tooMany(attempt.retryAfterSeconds, 'Too many failed logins; try again later')
      }
      if (!attempt.ok || !user) {
        await core.audit({ event: 'login.failed', userId: user?.id ?? null, ip, details: { account: accountRef } })
        throw new ProblemError(401, ErrorCode.invalidCredentials, INVALID_CREDENTIALS)
      }
      // Only someone who knows the password learns that the account is disabled (and gets no ticket).
      if (user.disabledAt) {
        await core.audit({ event: 'login.refused_disabled', userId: user.id, ip })
        throw new ProblemError(403, ErrorCode.accountDisabled, ACCOUNT_DISABLED_MESSAGE)
      }
      if (next) {
        // Not a session yet: a ticket for this attempt only, good for its second step.
        setTicketCookie(reply, await issueTicket(core.pool, user.id, next.purpose))
        await core.audit({ event: 'login.password_ok', userId: user.id, ip, details: { next: next.purpose } })
        reply.header('cache-control', 'no-store')
        return { mfaRequired: true as const, enrolmentRequired: next.purpose === 'enrol', methods: next.methods, expiresIn: MFA_TICKET_TTL_SECONDS }
      }
      return { user: userView(user), ...(await startLoginSession(core, config, request, reply, user.id, ip)) }
    }
  )

  app.post(
    '/auth/refresh',
    {
      bodyLimit: routeBodyLimit('/auth/refresh'),
      config: { public: true, rateLimit },
      preValidation: emptyBodyIsObject,
      schema: { body: RefreshBodySchema, response: { 200: RefreshResponseSchema, '4xx': ProblemSchema } }
    },
    async (request, reply) => {
      const fromBody = request.body.refreshToken
      const fromCookie = request.cookies[AUTH_COOKIES.refresh]
      const presented = fromBody ?? fromCookie
      if (!fromBody) checkOrigin(request, allowedOrigins, fromCookie !== undefined)
      else checkOrigin(request, allowedOrigins, false)
      if (!presented || !/^[A-Za-z0-9_-]{43,128}$/.test(presented)) throw new ProblemError(401, ErrorCode.unauthenticated, 'Refresh token required')
      let issued
      try {
        issued = await core.rotateRefreshToken(presented, ipOf(request))
      } catch (err) {
        if (err instanceof ProblemError && err.statusCode === 401 && !fromBody) clearSessionCookies(reply)
        throw err
      }
      setSessionCookies(reply, config, { token: issued.accessToken, expiresIn: issued.accessExpiresIn }, issued.refreshToken)
      reply.header('cache-control', 'no-store')
      return {
        sessionId: issued.sessionId,
        accessToken: issued.accessToken,
        ...(fromBody ? { refreshToken: issued.refreshToken } : {}),
        tokenType: 'Bearer' as const,
        expiresIn: issued.accessExpiresIn
      }
    }
  )

  app.post(
    '/auth/logout',
    {
      bodyLimit: routeBodyLimit('/auth/logout'),
      config: { public: true, rateLimit },
      preValidation: emptyBodyIsObject,
      schema: { body: RefreshBodySchema, response: { 204: Type.Null(), '4xx': ProblemSchema } }
    },
    async (request, reply) => {
      const bearer = bearerToken(request)
      const cookie = request.cookies[AUTH_COOKIES.access]
      checkOrigin(request, allowedOrigins, bearer === undefined && cookie !== undefined)
      const token = bearer ?? cookie
      let target = token ? core.sessionOfToken(token) : undefined
      if (!target && request.body.refreshToken) target = await core.sessionOfRefreshToken(request.body.refreshToken)
      if (target) {
        const revoked = await core.revokeSessions(target.userId, 'logout', { sessionIds: [target.sessionId] })
        if (revoked.length > 0) await core.audit({ event: 'logout', userId: target.userId, sessionId: target.sessionId, ip: ipOf(request) })
      }
      clearSessionCookies(reply)
      return reply.code(204).send(null)
    }
  )
}

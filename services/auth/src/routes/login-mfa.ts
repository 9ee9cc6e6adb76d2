import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import {
  EmptyObjectSchema,
  EnrolledLoginResponseSchema,
  ErrorCode,
  LoginMfaBodySchema,
  LoginResponseSchema,
  PasskeyLoginBodySchema,
  PasskeyOptionsSchema,
  PasskeyRegisterBodySchema,
  ProblemSchema,
  TotpConfirmBodySchema,
  TotpEnrolmentSchema
} from '@palisade/contracts'
import { clientLimitKey, ipLimitKey, ProblemError, problems } from '@palisade/platform'
import type { AuthConfig } from '../config.js'
import type { AuthCore } from '../lib/core.js'
import { checkOrigin, routeBodyLimit } from '../lib/http.js'
import { startLoginSession } from '../lib/login-session.js'
import { proveFactor, type MfaDeps } from '../lib/mfa.js'
import { rememberProviderSession } from '../lib/oidc/provider-sessions.js'
import { clearTicketCookie, consumeTicket, ticketOf, type Ticket } from '../lib/mfa-ticket.js'
import { authenticationOptions, registerPasskey, registrationOptions, verifyPasskey } from '../lib/passkeys.js'
import { regenerateRecoveryCodes } from '../lib/recovery-codes.js'
import { loginAttempt } from '../lib/throttle.js'
import { acceptTotpCode, startTotpEnrolment } from '../lib/totp.js'
import type { UserRow } from '../lib/users.js'
import { userView } from './credentials.js'

export interface LoginMfaRoutesOptions {
  core: AuthCore
  config: AuthConfig
  mfa: MfaDeps
  allowedOrigins: ReadonlySet<string>
  ipOf: (request: FastifyRequest) => string
}

/**
 * The steps of a login after its password (second factor, forced enrolment) and passkey-only
 * sign-in. Public routes: the attempt is carried by the ticket cookie, which only these accept.
 */
export const loginMfaRoutes: FastifyPluginAsync<LoginMfaRoutesOptions> = async (root, opts) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  const { core, config, mfa, allowedOrigins, ipOf } = opts
  const rateLimit = { max: config.AUTH_RATE_LIMIT_PER_MINUTE, timeWindow: 60_000, keyGenerator: (req: FastifyRequest) => `auth-ip:${clientLimitKey(req)}` }
  const common = (path: string) => ({ bodyLimit: routeBodyLimit(path), config: { public: true, rateLimit } })
  // Steps that take no input still get a validated (empty) body; a bodiless POST counts as `{}`.
  const noInput = (path: string) => ({
    ...common(path),
    preValidation: async (request: { body: unknown }) => {
      if (request.body === undefined || request.body === null) request.body = {}
    }
  })

  /** The ticket of this request (the cookie makes it a credential: a foreign page's Origin is refused). */
  async function ticketUser(request: FastifyRequest, purpose: Ticket['purpose']): Promise<{ ticket: Ticket; user: UserRow }> {
    checkOrigin(request, allowedOrigins, true)
    const ticket = await ticketOf(core.pool, request, purpose)
    const user = await core.findUserById(ticket.userId)
    if (!user) throw new ProblemError(401, ErrorCode.mfaTicketInvalid, 'This sign-in attempt has expired; start again with your password')
    return { ticket, user }
  }

  async function finish(request: FastifyRequest, reply: FastifyReply, ticket: Ticket, user: UserRow, via: string) {
    await consumeTicket(core.pool, ticket)
    clearTicketCookie(reply)
    const session = await startLoginSession(core, config, request, reply, user.id, ipOf(request), via)
    if (ticket.providerSession) await rememberProviderSession(core.pool, session.sessionId, user.id, ticket.providerSession)
    return { user: userView(user), ...session }
  }

  app.post(
    '/auth/login/mfa',
    { ...common('/auth/login/mfa'), schema: { body: LoginMfaBodySchema, response: { 200: LoginResponseSchema, '4xx': ProblemSchema } } },
    async (request, reply) => {
      const { ticket, user } = await ticketUser(request, 'mfa')
      const ip = ipOf(request)
      let method: string | undefined
      // Every wrong code is a failed login of the account: the same 5-per-window lock as passwords.
      const attempt = await loginAttempt(core.pool, { maxAddressFailures: config.AUTH_LOGIN_FAILURES_PER_ADDRESS }, user.email, ipLimitKey(ip), async () => {
        method = await proveFactor(mfa, user.id, request.body, { purpose: 'mfa', binding: ticket.id })
        return method !== undefined
      })
      if (attempt.throttled) {
        await core.audit({
          event: 'login.throttled',
          userId: user.id,
          ip,
          details: { via: 'mfa', reason: attempt.reason, retryAfter: attempt.retryAfterSeconds }
        })
        throw problems.tooMany(attempt.retryAfterSeconds, 'Too many failed attempts; try again later')
      }
      if (!attempt.ok || !method) {
        await core.audit({ event: 'mfa.failed', userId: user.id, ip, details: { method: Object.keys(request.body)[0] ?? null } })
        throw new ProblemError(401, ErrorCode.invalidCode, 'That code is not valid')
      }
      return finish(request, reply, ticket, user, method)
    }
  )

  app.post(
    '/auth/login/mfa/passkey-options',
    { ...noInput('/auth/login/mfa'), schema: { body: EmptyObjectSchema, response: { 200: PasskeyOptionsSchema, '4xx': ProblemSchema } } },
    async (request) => {
      const { ticket, user } = await ticketUser(request, 'mfa')
      return { options: await authenticationOptions(mfa, 'mfa', ticket.id, user.id) }
    }
  )

  // Forced enrolment (AUTH_REQUIRE_MFA): the ticket allows this and nothing else; the session
  // starts only once a factor is confirmed.
  app.post(
    '/auth/login/enrol/totp',
    { ...noInput('/auth/login/enrol'), schema: { body: EmptyObjectSchema, response: { 200: TotpEnrolmentSchema, '4xx': ProblemSchema } } },
    async (request, reply) => {
      const { user } = await ticketUser(request, 'enrol')
      const started = await startTotpEnrolment(mfa, user)
      if (!started) throw problems.conflict('An authenticator app is already enrolled')
      reply.header('cache-control', 'no-store')
      return started
    }
  )

  app.post(
    '/auth/login/enrol/totp/confirm',
    { ...common('/auth/login/enrol'), schema: { body: TotpConfirmBodySchema, response: { 200: EnrolledLoginResponseSchema, '4xx': ProblemSchema } } },
    async (request, reply) => {
      const { ticket, user } = await ticketUser(request, 'enrol')
      if (!(await acceptTotpCode(mfa, user.id, request.body.code, 'pending'))) throw new ProblemError(400, ErrorCode.invalidCode, 'That code is not valid')
      await core.audit({ event: 'mfa.totp_enrolled', userId: user.id, ip: ipOf(request), details: { during: 'login' } })
      const recoveryCodes = await regenerateRecoveryCodes(mfa, user.id)
      return { ...(await finish(request, reply, ticket, user, 'enrolment')), recoveryCodes }
    }
  )

  app.post(
    '/auth/login/enrol/passkey-options',
    { ...noInput('/auth/login/enrol'), schema: { body: EmptyObjectSchema, response: { 200: PasskeyOptionsSchema, '4xx': ProblemSchema } } },
    async (request) => {
      const { ticket, user } = await ticketUser(request, 'enrol')
      return { options: await registrationOptions(mfa, user, 'enrol', ticket.id) }
    }
  )

  app.post(
    '/auth/login/enrol/passkey',
    { ...common('/auth/login/enrol'), schema: { body: PasskeyRegisterBodySchema, response: { 200: EnrolledLoginResponseSchema, '4xx': ProblemSchema } } },
    async (request, reply) => {
      const { ticket, user } = await ticketUser(request, 'enrol')
      const created = await registerPasskey(mfa, user.id, 'enrol', ticket.id, request.body.name.trim() || 'Passkey', request.body.credential)
      if (!created) throw new ProblemError(400, ErrorCode.passkeyRejected, 'The passkey could not be verified')
      await core.audit({ event: 'mfa.passkey_added', userId: user.id, ip: ipOf(request), details: { passkey: created.id, during: 'login' } })
      const recoveryCodes = await regenerateRecoveryCodes(mfa, user.id)
      return { ...(await finish(request, reply, ticket, user, 'enrolment')), recoveryCodes }
    }
  )

  // Passkey-only sign-in: a discoverable credential with user verification is both factors at once.
  app.post(
    '/auth/login/passkey/options',
    { ...noInput('/auth/login/passkey'), schema: { body: EmptyObjectSchema, response: { 200: PasskeyOptionsSchema, '4xx': ProblemSchema } } },
    async (request) => {
      checkOrigin(request, allowedOrigins, false)
      return { options: await authenticationOptions(mfa, 'login', '', null) }
    }
  )

  app.post(
    '/auth/login/passkey',
    { ...common('/auth/login/passkey'), schema: { body: PasskeyLoginBodySchema, response: { 200: LoginResponseSchema, '4xx': ProblemSchema } } },
    async (request, reply) => {
      checkOrigin(request, allowedOrigins, false)
      const ip = ipOf(request)
      const userId = await verifyPasskey(mfa, 'login', '', request.body.credential)
      const user = userId ? await core.findUserById(userId) : undefined
      if (!user) {
        await core.audit({ event: 'login.failed', ip, details: { via: 'passkey' } })
        throw new ProblemError(401, ErrorCode.passkeyRejected, 'The passkey could not be verified')
      }
      return { user: userView(user), ...(await startLoginSession(core, config, request, reply, user.id, ip, 'passkey')) }
    }
  )
}

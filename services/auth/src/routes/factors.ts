import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import {
  EmptyObjectSchema,
  ErrorCode,
  FactorsSchema,
  IdParamsSchema,
  PasskeyOptionsSchema,
  PasskeyRegisterBodySchema,
  PasskeyRegisteredSchema,
  ProblemSchema,
  ReauthBodySchema,
  ReauthResponseSchema,
  RecoveryCodesSchema,
  STEP_UP_MAX_AGE_SECONDS,
  TotpConfirmBodySchema,
  TotpEnrolmentSchema
} from '@palisade/contracts'
import { identityOf, ipLimitKey, ProblemError, problems } from '@palisade/platform'
import type { AuthCore } from '../lib/core.js'
import { routeBodyLimit } from '../lib/http.js'
import { mustHaveFactor, proveFactor, type MfaDeps } from '../lib/mfa.js'
import { authenticationOptions, deletePasskey, listPasskeys, registerPasskey, registrationOptions } from '../lib/passkeys.js'
import { verifyPassword } from '../lib/passwords.js'
import { deleteRecoveryCodes, regenerateRecoveryCodes } from '../lib/recovery-codes.js'
import { assertRecentAuthentication, markAuthenticated } from '../lib/step-up.js'
import { loginAttempt } from '../lib/throttle.js'
import { acceptTotpCode, factorSummary, removeTotp, startTotpEnrolment } from '../lib/totp.js'

export interface FactorRoutesOptions {
  core: AuthCore
  mfa: MfaDeps
  ipOf: (request: FastifyRequest) => string
}

// A bodiless POST is validated as an empty object, not rejected.
const emptyBodyIsObject = async (request: { body: unknown }) => {
  if (request.body === undefined || request.body === null) request.body = {}
}

/**
 * Forward-authed (registered inside accountRoutes, so the assertion and the live session are
 * checked first): re-authentication, and the account's factors. Every change to a factor or to
 * the recovery codes needs a recent authentication (step-up).
 */
export const factorRoutes: FastifyPluginAsync<FactorRoutesOptions> = async (root, opts) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  const { core, mfa, ipOf } = opts
  const limits = { maxAddressFailures: core.config.AUTH_LOGIN_FAILURES_PER_ADDRESS }
  const reauthLimit = routeBodyLimit('/auth/reauth')
  const mfaLimit = routeBodyLimit('/auth/mfa')

  async function me(request: FastifyRequest) {
    const id = identityOf(request)
    const user = await core.findUserById(id.userId)
    if (!user) throw problems.unauthenticated()
    return { id, user }
  }

  async function stepUp(request: FastifyRequest) {
    const who = await me(request)
    await assertRecentAuthentication(core, who.id)
    return who
  }

  /** Whether removing one factor would leave an account the policy obliges to have one without any. */
  async function wouldStrand(user: { id: string; roles: string[] }, removing: 'totp' | 'passkey'): Promise<boolean> {
    if (!mustHaveFactor(core.config, user.roles)) return false
    const s = await factorSummary(core.pool, user.id)
    const left = (s.totpConfirmedAt && removing !== 'totp' ? 1 : 0) + s.passkeys - (removing === 'passkey' ? 1 : 0)
    return left <= 0
  }

  /** After the last factor went: recovery codes would be a way in with nothing to recover. */
  async function dropCodesIfNoFactor(userId: string): Promise<void> {
    const s = await factorSummary(core.pool, userId)
    if (!s.totpConfirmedAt && s.passkeys === 0) await deleteRecoveryCodes(core.pool, userId)
  }

  app.post(
    '/auth/reauth',
    { bodyLimit: reauthLimit, schema: { body: ReauthBodySchema, response: { 200: ReauthResponseSchema, '4xx': ProblemSchema } } },
    async (request) => {
      const { id, user } = await me(request)
      const ip = ipOf(request)
      const { password, ...proof } = request.body
      // Guesses from a stolen session count against the account like failed logins.
      const attempt = await loginAttempt(core.pool, limits, user.email, ipLimitKey(ip), async () =>
        password !== undefined
          ? verifyPassword(user.passwordHash, password)
          : (await proveFactor(mfa, user.id, proof, { purpose: 'reauth', binding: id.sessionId })) !== undefined
      )
      if (attempt.throttled) {
        await core.audit({ event: 'login.throttled', userId: user.id, sessionId: id.sessionId, ip, details: { via: 'reauth', reason: attempt.reason } })
        throw problems.tooMany(attempt.retryAfterSeconds, 'Too many failed attempts; try again later')
      }
      if (!attempt.ok) {
        await core.audit({ event: 'reauth.failed', userId: user.id, sessionId: id.sessionId, ip })
        throw new ProblemError(403, password !== undefined ? ErrorCode.invalidCredentials : ErrorCode.invalidCode, 'That did not confirm it is you')
      }
      const at = await markAuthenticated(core, id)
      await core.audit({
        event: 'reauth.succeeded',
        userId: user.id,
        sessionId: id.sessionId,
        ip,
        details: { via: password !== undefined ? 'password' : Object.keys(proof)[0]! }
      })
      return { authenticatedAt: at.toISOString(), validFor: STEP_UP_MAX_AGE_SECONDS }
    }
  )

  app.post(
    '/auth/reauth/passkey-options',
    {
      bodyLimit: reauthLimit,
      preValidation: emptyBodyIsObject,
      schema: { body: EmptyObjectSchema, response: { 200: PasskeyOptionsSchema, '4xx': ProblemSchema } }
    },
    async (request) => {
      const { id } = await me(request)
      return { options: await authenticationOptions(mfa, 'reauth', id.sessionId, id.userId) }
    }
  )

  app.get('/auth/mfa', { schema: { response: { 200: FactorsSchema, '4xx': ProblemSchema } } }, async (request) => {
    const { user } = await me(request)
    const s = await factorSummary(core.pool, user.id)
    return {
      totp: { enabled: s.totpConfirmedAt !== null, confirmedAt: s.totpConfirmedAt?.toISOString() ?? null },
      passkeys: await listPasskeys(core.pool, user.id),
      recoveryCodesLeft: s.recoveryLeft,
      required: mustHaveFactor(core.config, user.roles)
    }
  })

  app.post(
    '/auth/mfa/totp',
    {
      bodyLimit: mfaLimit,
      preValidation: emptyBodyIsObject,
      schema: { body: EmptyObjectSchema, response: { 200: TotpEnrolmentSchema, '4xx': ProblemSchema } }
    },
    async (request, reply) => {
      const { user } = await stepUp(request)
      const started = await startTotpEnrolment(mfa, user)
      if (!started) throw problems.conflict('An authenticator app is already enrolled; remove it first')
      reply.header('cache-control', 'no-store')
      return started
    }
  )

  app.post(
    '/auth/mfa/totp/confirm',
    { bodyLimit: mfaLimit, schema: { body: TotpConfirmBodySchema, response: { 200: RecoveryCodesSchema, '4xx': ProblemSchema } } },
    async (request, reply) => {
      const { id, user } = await stepUp(request)
      if (!(await acceptTotpCode(mfa, user.id, request.body.code, 'pending'))) throw new ProblemError(400, ErrorCode.invalidCode, 'That code is not valid')
      await core.audit({ event: 'mfa.totp_enrolled', userId: user.id, sessionId: id.sessionId, ip: ipOf(request) })
      // The first factor comes with recovery codes; later ones keep the codes the user already has.
      const s = await factorSummary(core.pool, user.id)
      reply.header('cache-control', 'no-store')
      return { recoveryCodes: s.passkeys === 0 ? await regenerateRecoveryCodes(mfa, user.id) : [] }
    }
  )

  app.delete('/auth/mfa/totp', { bodyLimit: mfaLimit, schema: { response: { 204: Type.Null(), '4xx': ProblemSchema } } }, async (request, reply) => {
    const { id, user } = await stepUp(request)
    if (await wouldStrand(user, 'totp')) throw problems.conflict('Your account must keep a second factor: add another one first')
    if (!(await removeTotp(core.pool, user.id))) throw problems.notFound('No authenticator app is enrolled')
    await dropCodesIfNoFactor(user.id)
    await core.audit({ event: 'mfa.totp_removed', userId: user.id, sessionId: id.sessionId, ip: ipOf(request) })
    return reply.code(204).send(null)
  })

  app.post(
    '/auth/mfa/recovery-codes',
    {
      bodyLimit: mfaLimit,
      preValidation: emptyBodyIsObject,
      schema: { body: EmptyObjectSchema, response: { 200: RecoveryCodesSchema, '4xx': ProblemSchema } }
    },
    async (request, reply) => {
      const { id, user } = await stepUp(request)
      const s = await factorSummary(core.pool, user.id)
      if (!s.totpConfirmedAt && s.passkeys === 0) throw problems.conflict('Enrol a second factor first')
      const recoveryCodes = await regenerateRecoveryCodes(mfa, user.id)
      await core.audit({ event: 'mfa.recovery_codes_regenerated', userId: user.id, sessionId: id.sessionId, ip: ipOf(request) })
      reply.header('cache-control', 'no-store')
      return { recoveryCodes }
    }
  )

  app.post(
    '/auth/mfa/passkeys/options',
    {
      bodyLimit: mfaLimit,
      preValidation: emptyBodyIsObject,
      schema: { body: EmptyObjectSchema, response: { 200: PasskeyOptionsSchema, '4xx': ProblemSchema } }
    },
    async (request) => {
      const { id, user } = await stepUp(request)
      return { options: await registrationOptions(mfa, user, 'register', id.sessionId) }
    }
  )

  app.post(
    '/auth/mfa/passkeys',
    { bodyLimit: mfaLimit, schema: { body: PasskeyRegisterBodySchema, response: { 200: PasskeyRegisteredSchema, '4xx': ProblemSchema } } },
    async (request, reply) => {
      const { id, user } = await stepUp(request)
      const before = await factorSummary(core.pool, user.id)
      const created = await registerPasskey(mfa, user.id, 'register', id.sessionId, request.body.name.trim() || 'Passkey', request.body.credential)
      if (!created) throw new ProblemError(400, ErrorCode.passkeyRejected, 'The passkey could not be verified')
      await core.audit({ event: 'mfa.passkey_added', userId: user.id, sessionId: id.sessionId, ip: ipOf(request), details: { passkey: created.id } })
      reply.header('cache-control', 'no-store')
      return {
        passkey: { id: created.id, name: created.name, createdAt: created.createdAt.toISOString(), lastUsedAt: null },
        recoveryCodes: !before.totpConfirmedAt && before.passkeys === 0 ? await regenerateRecoveryCodes(mfa, user.id) : []
      }
    }
  )

  app.delete(
    '/auth/mfa/passkeys/:id',
    { bodyLimit: mfaLimit, schema: { params: IdParamsSchema, response: { 204: Type.Null(), '4xx': ProblemSchema } } },
    async (request, reply) => {
      const { id, user } = await stepUp(request)
      const target = request.params.id.toLowerCase()
      const owned = (await listPasskeys(core.pool, user.id)).some((p) => p.id === target)
      if (!owned) throw problems.notFound('Passkey not found')
      if (await wouldStrand(user, 'passkey')) throw problems.conflict('Your account must keep a second factor: add another one first')
      if (!(await deletePasskey(core.pool, user.id, target))) throw problems.notFound('Passkey not found')
      await dropCodesIfNoFactor(user.id)
      await core.audit({ event: 'mfa.passkey_removed', userId: user.id, sessionId: id.sessionId, ip: ipOf(request), details: { passkey: target } })
      return reply.code(204).send(null)
    }
  )
}

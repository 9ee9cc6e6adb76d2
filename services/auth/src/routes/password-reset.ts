import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ErrorCode, PasswordResetBodySchema, ProblemSchema } from '@palisade/contracts'
import { clientLimitKey, ProblemError, problems } from '@palisade/platform'
import type { AuthCore } from '../lib/core.js'
import type { AuthConfig } from '../config.js'
import { checkOrigin, routeBodyLimit } from '../lib/http.js'
import { hashPassword, passwordWeakness } from '../lib/passwords.js'
import { useResetLink } from '../lib/password-reset.js'

export interface PasswordResetRouteOptions {
  core: AuthCore
  config: AuthConfig
  allowedOrigins: ReadonlySet<string>
  ipOf: (request: FastifyRequest) => string
}

/**
 * `POST /auth/password-reset {token, newPassword}` (public): sets a new password with a one-time
 * link an administrator issued, and signs the account out everywhere. The link is the credential;
 * it is 256 random bits, single use and dies after an hour, and the endpoint is rate limited.
 */
export const passwordResetRoute: FastifyPluginAsync<PasswordResetRouteOptions> = async (root, { core, config, allowedOrigins, ipOf }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  const rateLimit = { max: config.AUTH_RATE_LIMIT_PER_MINUTE, timeWindow: 60_000, keyGenerator: (req: FastifyRequest) => `auth-ip:${clientLimitKey(req)}` }
  app.post(
    '/auth/password-reset',
    {
      bodyLimit: routeBodyLimit('/auth/password-reset'),
      config: { public: true, rateLimit },
      schema: { body: PasswordResetBodySchema, response: { 204: Type.Null(), '4xx': ProblemSchema } }
    },
    async (request, reply) => {
      checkOrigin(request, allowedOrigins, false)
      const { token, newPassword } = request.body
      const { userId, linkId } = await useResetLink(core, token, async (id) => {
        const user = await core.findUserById(id)
        if (!user) throw problems.notFound('User not found')
        const weak = passwordWeakness(newPassword, user.email)
        // Throwing inside rolls back: a weak password does not use up the link.
        if (weak) throw new ProblemError(400, ErrorCode.weakPassword, weak)
        return hashPassword(newPassword)
      })
      await core.audit({ event: 'password.reset', userId, ip: ipOf(request), details: { link: linkId } })
      return reply.code(204).send(null)
    }
  )
}

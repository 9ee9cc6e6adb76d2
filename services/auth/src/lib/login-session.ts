import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AuthConfig } from '../config.js'
import type { AuthCore } from './core.js'
import { setSessionCookies, userAgentOf } from './http.js'

/**
 * The end of every successful sign-in (password alone, password + second factor, enrolment,
 * passkey): a new session, its cookies, the audit entry. Returns the body's token part.
 */
export async function startLoginSession(
  core: AuthCore,
  config: AuthConfig,
  request: FastifyRequest,
  reply: FastifyReply,
  userId: string,
  ip: string,
  via?: string
): Promise<{ sessionId: string; accessToken: string; tokenType: 'Bearer'; expiresIn: number }> {
  const issued = await core.createSession(userId, userAgentOf(request), ip)
  await core.audit({ event: 'login.succeeded', userId, sessionId: issued.sessionId, ip, ...(via ? { details: { via } } : {}) })
  setSessionCookies(reply, config, { token: issued.accessToken, expiresIn: issued.accessExpiresIn }, issued.refreshToken)
  reply.header('cache-control', 'no-store')
  return { sessionId: issued.sessionId, accessToken: issued.accessToken, tokenType: 'Bearer', expiresIn: issued.accessExpiresIn }
}

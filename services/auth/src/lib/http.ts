import type { FastifyReply, FastifyRequest } from 'fastify'
import { AUTH_COOKIES, BEARER_AUTHORIZATION, ErrorCode, REFRESH_COOKIE_PATH, ROUTES } from '@palisade/contracts'
import { ProblemError } from '@palisade/platform'
import type { AuthConfig } from '../config.js'

export function routeBodyLimit(path: string): number {
  const route = ROUTES.find((r) => r.path === path)
  if (!route) throw new Error(`${path} is not in the route table`)
  return Math.max(route.bodyLimit, 1024)
}

export function setSessionCookies(reply: FastifyReply, config: AuthConfig, access: { token: string; expiresIn: number }, refreshToken: string): void {
  reply.setCookie(AUTH_COOKIES.access, access.token, { httpOnly: true, secure: true, sameSite: 'lax', path: '/', maxAge: access.expiresIn })
  reply.setCookie(AUTH_COOKIES.refresh, refreshToken, {
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    path: REFRESH_COOKIE_PATH,
    maxAge: config.AUTH_REFRESH_TTL_SECONDS
  })
}

export function clearSessionCookies(reply: FastifyReply): void {
  reply.clearCookie(AUTH_COOKIES.access, { httpOnly: true, secure: true, sameSite: 'lax', path: '/' })
  reply.clearCookie(AUTH_COOKIES.refresh, { httpOnly: true, secure: true, sameSite: 'strict', path: REFRESH_COOKIE_PATH })
}

/** `Authorization: Bearer <token>` → token; absent → undefined; anything else malformed → 401. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization
  if (h === undefined) return undefined
  const m = BEARER_AUTHORIZATION.exec(h)
  if (!m || m[1]!.length > 4096) throw new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
  return m[1]
}

/**
 * Cross-site request forgery guard for auth's own public endpoints: a browser always sends Origin
 * on POST, so a present Origin must be an allowed one; when the request authenticates with a
 * cookie the Origin must be present too. Requests without cookies and without Origin are API calls.
 */
export function checkOrigin(request: FastifyRequest, allowed: ReadonlySet<string>, cookieAuthenticated: boolean): void {
  const origin = request.headers.origin
  if (origin === undefined ? cookieAuthenticated : !allowed.has(origin)) {
    throw new ProblemError(403, ErrorCode.forbiddenOrigin, 'Origin not allowed')
  }
}

export function userAgentOf(request: FastifyRequest): string {
  const ua = request.headers['user-agent']
  return typeof ua === 'string' ? ua.replace(/[\x00-\x1f\x7f]/g, '').slice(0, 512) : ''
}

import { ErrorCode, type Role } from '@palisade/contracts'
import { ProblemError } from '@palisade/platform'
import { and, eq } from 'drizzle-orm'
import { sessions, users } from '../db/schema.js'
import { AccessTokenError, signAccessToken, verifyAccessToken } from './access-token.js'
import type { AuthDeps } from './deps.js'
import { TokenCache, type VerifiedAccess } from './token-cache.js'

export interface IssuedTokens {
  sessionId: string
  accessToken: string
  accessExpiresIn: number
  refreshToken: string
}

/** An access token for the session, never outliving it. */
export function accessTokenFor(
  deps: AuthDeps,
  userId: string,
  sessionId: string,
  sessionExpiresAt: Date,
  roles: string[]
): { token: string; expiresIn: number } {
  const left = Math.floor((sessionExpiresAt.getTime() - Date.now()) / 1000)
  const ttl = Math.max(1, Math.min(deps.config.AUTH_ACCESS_TTL_SECONDS, left))
  return { token: signAccessToken(deps.keys, deps.config.AUTH_ISSUER, userId, sessionId, ttl, roles as Role[]).token, expiresIn: ttl }
}

/**
 * The identity behind an access token, as cheaply as possible: a cache hit costs one sha256;
 * a miss verifies the signature and asks the database whether the session is still alive.
 */
export async function verifyAccess(deps: AuthDeps, token: string, hash = TokenCache.hash(token)): Promise<VerifiedAccess> {
  const { cache, config } = deps
  const now = Math.floor(Date.now() / 1000)
  const hit = cache.get(hash, now)
  if (hit) return hit
  const known = cache.rejectedReason(hash)
  if (known) throw new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
  let claims
  try {
    claims = verifyAccessToken(deps.keys, token, { issuer: config.AUTH_ISSUER, maxTtlSeconds: config.AUTH_ACCESS_TTL_SECONDS })
  } catch (err) {
    if (err instanceof AccessTokenError) {
      if (err.reason === 'expired') throw new ProblemError(401, ErrorCode.tokenExpired, 'Access token expired')
      cache.reject(hash, err.reason)
      throw new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
    }
    throw err
  }
  if (cache.isRevoked(claims.sid)) throw new ProblemError(401, ErrorCode.sessionRevoked, 'Session revoked')
  const [row] = await deps.db
    .select({
      revokedAt: sessions.revokedAt,
      expiresAt: sessions.expiresAt,
      lastUsedAt: sessions.lastUsedAt,
      roles: users.roles,
      disabledAt: users.disabledAt
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, claims.sid), eq(sessions.userId, claims.sub)))
    .limit(1)
  if (!row) {
    cache.reject(hash, 'no session')
    throw new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
  }
  // The roles come from the database, not the token: a role change since the token was signed counts.
  const idleEnd = row.lastUsedAt.getTime() + config.AUTH_SESSION_IDLE_SECONDS * 1000
  if (row.revokedAt || row.disabledAt || row.expiresAt.getTime() <= Date.now() || idleEnd <= Date.now()) {
    cache.revoke([claims.sid])
    throw new ProblemError(401, ErrorCode.sessionRevoked, 'Session revoked')
  }
  const verified: VerifiedAccess = { userId: claims.sub, sessionId: claims.sid, roles: row.roles, exp: claims.exp }
  cache.set(hash, verified, now)
  return verified
}

/** The session an access token names, checking the signature but not the expiry (logout with a stale token). */
export function sessionOfToken(deps: AuthDeps, token: string): { userId: string; sessionId: string } | undefined {
  try {
    const c = verifyAccessToken(deps.keys, token, {
      issuer: deps.config.AUTH_ISSUER,
      maxTtlSeconds: deps.config.AUTH_ACCESS_TTL_SECONDS,
      ignoreExpiration: true
    })
    return { userId: c.sub, sessionId: c.sid }
  } catch {
    return undefined
  }
}

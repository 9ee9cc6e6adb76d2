import { randomUUID } from 'node:crypto'
import { AuthSessionRevoked, type SessionRevokedEvent } from '@palisade/contracts'
import { natsPublish, withTransaction } from '@palisade/platform'
import { and, eq, gt, isNull, sql } from 'drizzle-orm'
import { sessions } from '../db/schema.js'
import type { AuthDeps } from './deps.js'
import { newRefreshToken, sha256 } from './refresh-token.js'
import { accessTokenFor, type IssuedTokens } from './tokens.js'
import { personalTokenActive } from './personal-tokens.js'

export type RevokeReason = SessionRevokedEvent['reason']

/** A new session (= refresh-token family) with its first refresh token and an access token. */
export async function createSession(deps: AuthDeps, userId: string, userAgent: string, ip: string): Promise<IssuedTokens> {
  const sessionId = randomUUID()
  const refreshToken = newRefreshToken()
  const expiresAt = new Date(Date.now() + deps.config.AUTH_REFRESH_TTL_SECONDS * 1000)
  await withTransaction(deps.pool, async (client) => {
    await client.query('INSERT INTO auth.sessions (id, user_id, expires_at, user_agent, ip) VALUES ($1, $2, $3, $4, $5)', [
      sessionId,
      userId,
      expiresAt,
      userAgent.slice(0, 512),
      ip.slice(0, 64)
    ])
    await client.query('INSERT INTO auth.refresh_tokens (id, session_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)', [
      randomUUID(),
      sessionId,
      sha256(refreshToken),
      expiresAt
    ])
  })
  const access = accessTokenFor(deps, userId, sessionId, expiresAt)
  return { sessionId, accessToken: access.token, accessExpiresIn: access.expiresIn, refreshToken }
}

/**
 * Revokes sessions of a user (only active ones; returns their ids): database first, then this
 * instance's caches, then every other auth/gateway/service instance over NATS.
 */
export async function revokeSessions(
  deps: AuthDeps,
  userId: string,
  reason: RevokeReason,
  which: { sessionIds?: string[]; exceptSessionId?: string }
): Promise<string[]> {
  const params: unknown[] = [userId, reason]
  let filter = ''
  if (which.sessionIds) {
    params.push(which.sessionIds)
    filter += ` AND id = ANY($${params.length}::uuid[])`
  }
  if (which.exceptSessionId) {
    params.push(which.exceptSessionId)
    filter += ` AND id <> $${params.length}`
  }
  const r = await deps.pool.query<{ id: string }>(
    `UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL${filter} RETURNING id`,
    params
  )
  const ids = r.rows.map((x) => x.id)
  if (ids.length > 0) announceRevocation(deps, userId, ids, reason)
  return ids
}

/** Sessions already revoked in the database: this instance's caches, then everyone else over NATS. */
export function announceRevocation(deps: AuthDeps, userId: string, sessionIds: string[], reason: RevokeReason): void {
  deps.cache.revoke(sessionIds)
  for (let i = 0; i < sessionIds.length; i += 1000) {
    natsPublish(deps.nats, AuthSessionRevoked, { userId, sessionIds: sessionIds.slice(i, i + 1000), reason, at: new Date().toISOString() })
  }
}

export async function sessionOfRefreshToken(deps: AuthDeps, token: string): Promise<{ userId: string; sessionId: string } | undefined> {
  const r = await deps.pool.query<{ user_id: string; session_id: string }>(
    'SELECT s.user_id, s.id AS session_id FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1 AND rt.used_at IS NULL',
    [sha256(token)]
  )
  const row = r.rows[0]
  return row ? { userId: row.user_id, sessionId: row.session_id } : undefined
}

/** True when the session (or personal access token) exists, belongs to the user, is not revoked and not past its end. */
export async function sessionActive(deps: AuthDeps, userId: string, sessionId: string): Promise<boolean> {
  if (deps.cache.isRevoked(sessionId)) return false
  const rows = await deps.db
    .select({ id: sessions.id })
    .from(sessions)
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, sql`now()`)))
    .limit(1)
  // A personal access token is its own session (the route table lets it reach only a few auth routes).
  return rows.length > 0 || personalTokenActive(deps, userId, sessionId)
}

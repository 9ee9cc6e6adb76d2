import { randomUUID } from 'node:crypto'
import { AuthSessionRevoked, ErrorCode, type SessionRevokedEvent } from '@palisade/contracts'
import { ProblemError, type Emit } from '@palisade/platform'
import { appendAudit } from './audit.js'
import type { AuthDeps } from './deps.js'
import { newRefreshToken, sha256 } from './refresh-token.js'
import { accessTokenFor, type IssuedTokens } from './tokens.js'
import { personalTokenActive } from './personal-tokens.js'

export type RevokeReason = SessionRevokedEvent['reason']

export const ACCOUNT_DISABLED_MESSAGE = 'This account has been disabled by an administrator'

/** SQL condition (on `auth.sessions`, idle timeout in seconds as parameter `$n`) of a session still alive. */
export function liveSession(idleParam: string, alias = ''): string {
  const a = alias ? `${alias}.` : ''
  return `${a}revoked_at IS NULL AND ${a}expires_at > now() AND ${a}last_used_at > now() - make_interval(secs => ${idleParam})`
}

/**
 * A new session (= refresh-token family) with its first refresh token and an access token. The
 * user's row is locked first: a concurrent disable waits for this session to exist and then revokes
 * it, or this waits and finds the account disabled (no session slips past a disable). Beyond
 * AUTH_MAX_SESSIONS_PER_USER the least recently used sessions end (audited).
 */
export async function createSession(deps: AuthDeps, userId: string, userAgent: string, ip: string): Promise<IssuedTokens> {
  const sessionId = randomUUID()
  const refreshToken = newRefreshToken()
  const expiresAt = new Date(Date.now() + deps.config.AUTH_REFRESH_TTL_SECONDS * 1000)
  const evicted = await deps.outbox.transaction(async (client, emit) => {
    const user = await client.query<{ roles: string[] }>('SELECT roles FROM auth.users WHERE id = $1 AND disabled_at IS NULL FOR UPDATE', [userId])
    if (!user.rows[0]) throw new ProblemError(403, ErrorCode.accountDisabled, ACCOUNT_DISABLED_MESSAGE)
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
    const over = await client.query<{ id: string }>(
      `UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'session-limit'
        WHERE id IN (SELECT id FROM auth.sessions WHERE user_id = $1 AND ${liveSession('$2')}
                      ORDER BY last_used_at DESC, created_at DESC OFFSET $3)
        RETURNING id`,
      [userId, deps.config.AUTH_SESSION_IDLE_SECONDS, deps.config.AUTH_MAX_SESSIONS_PER_USER]
    )
    const ids = over.rows.map((r) => r.id)
    emitRevocation(emit, userId, ids, 'session-limit')
    return { ids, roles: user.rows[0].roles }
  })
  if (evicted.ids.length > 0) {
    deps.cache.revoke(evicted.ids)
    for (const id of evicted.ids) await appendAudit(deps.pool, { event: 'session.evicted', userId, sessionId: id, ip, details: { by: sessionId } })
  }
  const access = accessTokenFor(deps, userId, sessionId, expiresAt, evicted.roles)
  return { sessionId, accessToken: access.token, accessExpiresIn: access.expiresIn, refreshToken }
}

/**
 * Revokes sessions of a user (only active ones; returns their ids): the database and the event in
 * one transaction, then this instance's caches; the outbox relay tells every other
 * auth/gateway/service instance over NATS.
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
  const ids = await deps.outbox.transaction(async (client, emit) => {
    const r = await client.query<{ id: string }>(
      `UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL${filter} RETURNING id`,
      params
    )
    const ids = r.rows.map((x) => x.id)
    emitRevocation(emit, userId, ids, reason)
    return ids
  })
  deps.cache.revoke(ids)
  return ids
}

/**
 * Adds `auth.session.revoked` for sessions (or personal tokens) revoked in this transaction to its
 * outbox: published once committed, and still published when the process dies right after the
 * commit. The caller drops them from this instance's caches after the commit (deps.cache.revoke).
 */
export function emitRevocation(emit: Emit, userId: string, sessionIds: readonly string[], reason: RevokeReason): void {
  for (let i = 0; i < sessionIds.length; i += 1000) {
    const event: SessionRevokedEvent = { userId, sessionIds: sessionIds.slice(i, i + 1000), reason, at: new Date().toISOString() }
    emit([AuthSessionRevoked.subject], event)
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

/** True when the session (or personal access token) exists, belongs to the user, is not revoked, not past its end nor idle too long. */
export async function sessionActive(deps: AuthDeps, userId: string, sessionId: string): Promise<boolean> {
  if (deps.cache.isRevoked(sessionId)) return false
  const r = await deps.pool.query(`SELECT 1 FROM auth.sessions WHERE id = $1 AND user_id = $2 AND ${liveSession('$3')}`, [
    sessionId,
    userId,
    deps.config.AUTH_SESSION_IDLE_SECONDS
  ])
  // A personal access token is its own session (the route table lets it reach only a few auth routes).
  return (r.rowCount ?? 0) > 0 || personalTokenActive(deps, userId, sessionId)
}

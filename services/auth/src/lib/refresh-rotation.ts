import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { ErrorCode } from '@palisade/contracts'
import { ProblemError } from '@palisade/platform'
import { appendAudit } from './audit.js'
import type { AuthDeps } from './deps.js'
import { newRefreshToken, openSuccessor, sealSuccessor, sha256 } from './refresh-token.js'
import { emitRevocation } from './sessions.js'
import { accessTokenFor, type IssuedTokens } from './tokens.js'

/** How a rotation's transaction ended: a new token, the grace window's shared successor, or reuse. */
type Rotation = { userId: string; sessionId: string } & (
  | { kind: 'rotated' | 'grace'; expiresAt: Date; refreshToken: string; roles: string[] }
  | { kind: 'reused'; wasActive: boolean }
)

/**
 * Rotates a refresh token. A token that was already rotated is evidence of theft (either the
 * thief or the owner holds a stale copy): the whole family is revoked — unless it comes back
 * within AUTH_REFRESH_GRACE_SECONDS while its successor is still unused, which is what browser
 * tabs sharing one cookie do when they refresh at the same instant. Those get that same successor
 * (see `sealSuccessor`) rather than a fresh sibling: with siblings a thief replaying inside the
 * window would own a branch that reuse detection never sees; this way the family stays a chain,
 * the thief shares the owner's, and a later stale use by either is caught as before.
 */
export async function rotateRefreshToken(deps: AuthDeps, presented: string, ip: string): Promise<IssuedTokens & { userId: string }> {
  const graceSeconds = deps.config.AUTH_REFRESH_GRACE_SECONDS
  const outcome = await deps.outbox.transaction(async (client, emit): Promise<Rotation> => {
    // Locks the session (the family) first and only then the token: every rotation of one family
    // waits for the one before it and then reads the rows as it left them. Taking the token row
    // first would let a late duplicate hold a row the rotation ahead of it must clear: a deadlock.
    const hash = sha256(presented)
    // The idle timeout is judged here, on the session's own clock: a refresh after it fails instead
    // of moving last_used_at, so refreshing cannot revive an idle session (nor pass expires_at).
    const family = await client.query<{ user_id: string; revoked_at: Date | null; expires_at: Date; idle: boolean; roles: string[]; disabled: boolean }>(
      `SELECT s.user_id, s.revoked_at, s.expires_at, s.last_used_at <= now() - make_interval(secs => $2) AS idle, u.roles, u.disabled_at IS NOT NULL AS disabled
         FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id
        WHERE s.id = (SELECT session_id FROM auth.refresh_tokens WHERE token_hash = $1) FOR UPDATE OF s`,
      [hash, deps.config.AUTH_SESSION_IDLE_SECONDS]
    )
    const token = await client.query<{ id: string; session_id: string; used_at: Date | null; in_grace: boolean | null; successor_box: string | null }>(
      `SELECT id, session_id, used_at, used_at > clock_timestamp() - make_interval(secs => $2) AS in_grace, successor_box
         FROM auth.refresh_tokens WHERE token_hash = $1 FOR UPDATE`,
      [hash, graceSeconds]
    )
    const row = token.rows[0] && family.rows[0] ? { ...token.rows[0], ...family.rows[0] } : undefined
    if (!row) throw new ProblemError(401, ErrorCode.unauthenticated, 'Invalid refresh token')
    const ids = { userId: row.user_id, sessionId: row.session_id }
    if (row.used_at) {
      const live = !row.revoked_at && !row.disabled && row.expires_at.getTime() > Date.now()
      const successor = live && row.in_grace && row.successor_box ? await unusedSuccessor(client, row.id, presented, row.successor_box) : undefined
      if (successor) return { ...ids, kind: 'grace', expiresAt: row.expires_at, refreshToken: successor, roles: row.roles }
      const wasActive = !row.revoked_at
      if (wasActive) {
        await client.query("UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'refresh-reuse' WHERE id = $1", [row.session_id])
        emitRevocation(emit, row.user_id, [row.session_id], 'refresh-reuse')
      }
      await client.query('UPDATE auth.refresh_tokens SET successor_box = NULL WHERE session_id = $1 AND successor_box IS NOT NULL', [row.session_id])
      return { ...ids, kind: 'reused', wasActive }
    }
    if (row.revoked_at) throw new ProblemError(401, ErrorCode.sessionRevoked, 'Session revoked')
    if (row.disabled) throw new ProblemError(401, ErrorCode.accountDisabled, 'This account has been disabled by an administrator')
    if (row.expires_at.getTime() <= Date.now())
      throw new ProblemError(401, ErrorCode.tokenExpired, 'The session has reached its maximum lifetime; sign in again')
    if (row.idle) throw new ProblemError(401, ErrorCode.tokenExpired, 'The session ended after a long time without use; sign in again')
    const next = newRefreshToken()
    const box = graceSeconds > 0 ? sealSuccessor(presented, row.id, next) : null
    await client.query('UPDATE auth.refresh_tokens SET used_at = now(), successor_box = $2 WHERE id = $1', [row.id, box])
    // The parent's box held this token, which is now used: that box can never be opened again.
    await client.query('UPDATE auth.refresh_tokens SET successor_box = NULL WHERE session_id = $1 AND id <> $2 AND successor_box IS NOT NULL', [
      row.session_id,
      row.id
    ])
    await client.query('INSERT INTO auth.refresh_tokens (id, session_id, parent_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)', [
      randomUUID(),
      row.session_id,
      row.id,
      sha256(next),
      row.expires_at
    ])
    // The address of the last use, for the sessions list.
    await client.query('UPDATE auth.sessions SET last_used_at = now(), ip = $2 WHERE id = $1', [row.session_id, ip.slice(0, 64)])
    return { ...ids, kind: 'rotated', expiresAt: row.expires_at, refreshToken: next, roles: row.roles }
  })
  // Audit and NATS only once the transaction is over and its connection back in the pool.
  const { userId, sessionId } = outcome
  if (outcome.kind === 'rotated') await wipeStaleBoxes(deps)
  if (outcome.kind !== 'reused') {
    if (outcome.kind === 'grace') await appendAudit(deps.pool, { event: 'refresh.grace', userId, sessionId, ip })
    const access = accessTokenFor(deps, userId, sessionId, outcome.expiresAt, outcome.roles)
    return { userId, sessionId, accessToken: access.token, accessExpiresIn: access.expiresIn, refreshToken: outcome.refreshToken }
  }
  // Refresh-token reuse: the family is revoked (and announced through the outbox); now in this instance's cache.
  if (outcome.wasActive) deps.cache.revoke([sessionId])
  await appendAudit(deps.pool, { event: 'refresh.reused', userId, sessionId, ip })
  throw new ProblemError(401, ErrorCode.refreshReused, 'Refresh token reuse detected; the session has been revoked')
}

/**
 * The successor sealed in a rotated token's box, if that successor has not been used yet (a used
 * one means the family moved on: the stale token is reuse, not a parallel refresh). The session
 * row is locked by the caller, so no rotation of the family can slip in between.
 */
async function unusedSuccessor(client: pg.PoolClient, rowId: string, presented: string, box: string): Promise<string | undefined> {
  const r = await client.query<{ token_hash: string; used_at: Date | null }>('SELECT token_hash, used_at FROM auth.refresh_tokens WHERE parent_id = $1', [
    rowId
  ])
  const child = r.rows[0]
  if (!child || child.used_at) return undefined
  const successor = openSuccessor(presented, rowId, box)
  return successor !== undefined && sha256(successor) === child.token_hash ? successor : undefined
}

/**
 * Boxes outlive their grace window only until the next rotation anywhere: each rotation wipes a
 * batch of expired ones (rows other requests hold are left for the next sweep).
 */
async function wipeStaleBoxes(deps: AuthDeps): Promise<void> {
  try {
    await deps.pool.query(
      `UPDATE auth.refresh_tokens SET successor_box = NULL
        WHERE id IN (SELECT id FROM auth.refresh_tokens
                      WHERE successor_box IS NOT NULL AND used_at <= clock_timestamp() - make_interval(secs => $1)
                      LIMIT 100 FOR UPDATE SKIP LOCKED)`,
      [deps.config.AUTH_REFRESH_GRACE_SECONDS]
    )
  } catch (err) {
    deps.log.warn({ err }, 'wiping expired refresh successor boxes failed')
  }
}

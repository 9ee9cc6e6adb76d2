import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { NatsConnection } from '@nats-io/transport-node'
import { AuthSessionRevoked, ErrorCode, type SessionRevokedEvent } from '@palisade/contracts'
import { natsPublish, ProblemError, withTransaction, type Database } from '@palisade/platform'
import { and, eq, gt, isNull, sql } from 'drizzle-orm'
import { sessions, users } from '../db/schema.js'
import type { AuthConfig } from '../config.js'
import { appendAudit, type AuditEntry } from './audit.js'
import { AccessTokenError, signAccessToken, verifyAccessToken } from './access-token.js'
import type { Keyring } from './keyring.js'
import { newRefreshToken, openSuccessor, sealSuccessor, sha256 } from './refresh-token.js'
import { TokenCache, type VerifiedAccess } from './token-cache.js'

export type RevokeReason = SessionRevokedEvent['reason']

export interface IssuedTokens {
  sessionId: string
  accessToken: string
  accessExpiresIn: number
  refreshToken: string
}

export interface UserRow {
  id: string
  email: string
  displayName: string
  passwordHash: string
  roles: string[]
  createdAt: Date
}

/** How a rotation's transaction ended: a new token, the grace window's shared successor, or reuse. */
type Rotation = { userId: string; sessionId: string } & (
  | { kind: 'rotated' | 'grace'; expiresAt: Date; refreshToken: string }
  | { kind: 'reused'; wasActive: boolean }
)

const userColumns = {
  id: users.id,
  email: users.email,
  displayName: users.displayName,
  passwordHash: users.passwordHash,
  roles: users.roles,
  createdAt: users.createdAt
}

/** Everything the routes share: tokens, sessions, revocation (DB + caches + NATS) and the audit trail. */
export class AuthCore {
  readonly cache: TokenCache

  constructor(
    readonly db: Database,
    readonly pool: pg.Pool,
    readonly nats: NatsConnection,
    readonly keys: Keyring,
    readonly config: AuthConfig,
    readonly log: FastifyBaseLogger
  ) {
    // A revoked session must be remembered for as long as any of its access tokens can live.
    this.cache = new TokenCache((config.AUTH_ACCESS_TTL_SECONDS + 60) * 1000)
  }

  audit(entry: AuditEntry): Promise<void> {
    return appendAudit(this.pool, entry)
  }

  async findUserByEmail(email: string): Promise<UserRow | undefined> {
    const [row] = await this.db.select(userColumns).from(users).where(eq(users.email, email)).limit(1)
    return row
  }

  async findUserById(id: string): Promise<UserRow | undefined> {
    const [row] = await this.db.select(userColumns).from(users).where(eq(users.id, id)).limit(1)
    return row
  }

  accessTokenFor(userId: string, sessionId: string, sessionExpiresAt: Date): { token: string; expiresIn: number } {
    const left = Math.floor((sessionExpiresAt.getTime() - Date.now()) / 1000)
    const ttl = Math.max(1, Math.min(this.config.AUTH_ACCESS_TTL_SECONDS, left))
    return { token: signAccessToken(this.keys, this.config.AUTH_ISSUER, userId, sessionId, ttl).token, expiresIn: ttl }
  }

  /** A new session (= refresh-token family) with its first refresh token and an access token. */
  async createSession(userId: string, userAgent: string, ip: string): Promise<IssuedTokens> {
    const sessionId = randomUUID()
    const refreshToken = newRefreshToken()
    const expiresAt = new Date(Date.now() + this.config.AUTH_REFRESH_TTL_SECONDS * 1000)
    await withTransaction(this.pool, async (client) => {
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
    const access = this.accessTokenFor(userId, sessionId, expiresAt)
    return { sessionId, accessToken: access.token, accessExpiresIn: access.expiresIn, refreshToken }
  }

  /**
   * Rotates a refresh token. A token that was already rotated is evidence of theft (either the
   * thief or the owner holds a stale copy): the whole family is revoked — unless it comes back
   * within AUTH_REFRESH_GRACE_SECONDS while its successor is still unused, which is what browser
   * tabs sharing one cookie do when they refresh at the same instant. Those get that same successor
   * (see `sealSuccessor`) rather than a fresh sibling: with siblings a thief replaying inside the
   * window would own a branch that reuse detection never sees; this way the family stays a chain,
   * the thief shares the owner's, and a later stale use by either is caught as before.
   */
  async rotateRefreshToken(presented: string, ip: string): Promise<IssuedTokens & { userId: string }> {
    const graceSeconds = this.config.AUTH_REFRESH_GRACE_SECONDS
    const outcome = await withTransaction(this.pool, async (client): Promise<Rotation> => {
      // Locks the session (the family) first and only then the token: every rotation of one family
      // waits for the one before it and then reads the rows as it left them. Taking the token row
      // first would let a late duplicate hold a row the rotation ahead of it must clear: a deadlock.
      const hash = sha256(presented)
      const family = await client.query<{ user_id: string; revoked_at: Date | null; expires_at: Date }>(
        'SELECT user_id, revoked_at, expires_at FROM auth.sessions WHERE id = (SELECT session_id FROM auth.refresh_tokens WHERE token_hash = $1) FOR UPDATE',
        [hash]
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
        const live = !row.revoked_at && row.expires_at.getTime() > Date.now()
        const successor = live && row.in_grace && row.successor_box ? await this.unusedSuccessor(client, row.id, presented, row.successor_box) : undefined
        if (successor) return { ...ids, kind: 'grace', expiresAt: row.expires_at, refreshToken: successor }
        const wasActive = !row.revoked_at
        if (wasActive) await client.query("UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'refresh-reuse' WHERE id = $1", [row.session_id])
        await client.query('UPDATE auth.refresh_tokens SET successor_box = NULL WHERE session_id = $1 AND successor_box IS NOT NULL', [row.session_id])
        return { ...ids, kind: 'reused', wasActive }
      }
      if (row.revoked_at) throw new ProblemError(401, ErrorCode.sessionRevoked, 'Session revoked')
      if (row.expires_at.getTime() <= Date.now()) throw new ProblemError(401, ErrorCode.tokenExpired, 'Refresh token expired')
      const next = newRefreshToken()
      const box = graceSeconds > 0 ? sealSuccessor(presented, row.id, next) : null
      await client.query('UPDATE auth.refresh_tokens SET used_at = now(), successor_box = $2 WHERE id = $1', [row.id, box])
      // The parent's box held this token, which is now used: that box can never be opened again.
      await client.query('UPDATE auth.refresh_tokens SET successor_box = NULL WHERE session_id = $1 AND id <> $2 AND successor_box IS NOT NULL', [row.session_id, row.id])
      await client.query('INSERT INTO auth.refresh_tokens (id, session_id, parent_id, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)', [
        randomUUID(),
        row.session_id,
        row.id,
        sha256(next),
        row.expires_at
      ])
      await client.query('UPDATE auth.sessions SET last_used_at = now() WHERE id = $1', [row.session_id])
      return { ...ids, kind: 'rotated', expiresAt: row.expires_at, refreshToken: next }
    })
    // Audit and NATS only once the transaction is over and its connection back in the pool.
    const { userId, sessionId } = outcome
    if (outcome.kind === 'rotated') await this.wipeStaleBoxes()
    if (outcome.kind !== 'reused') {
      if (outcome.kind === 'grace') await this.audit({ event: 'refresh.grace', userId, sessionId, ip })
      const access = this.accessTokenFor(userId, sessionId, outcome.expiresAt)
      return { userId, sessionId, accessToken: access.token, accessExpiresIn: access.expiresIn, refreshToken: outcome.refreshToken }
    }
    // Refresh-token reuse: the family is revoked in the database; now everywhere else.
    if (outcome.wasActive) this.announceRevocation(userId, [sessionId], 'refresh-reuse')
    await this.audit({ event: 'refresh.reused', userId, sessionId, ip })
    throw new ProblemError(401, ErrorCode.refreshReused, 'Refresh token reuse detected; the session has been revoked')
  }

  /**
   * The successor sealed in a rotated token's box, if that successor has not been used yet (a used
   * one means the family moved on: the stale token is reuse, not a parallel refresh). The session
   * row is locked by the caller, so no rotation of the family can slip in between.
   */
  private async unusedSuccessor(client: pg.PoolClient, rowId: string, presented: string, box: string): Promise<string | undefined> {
    const r = await client.query<{ token_hash: string; used_at: Date | null }>('SELECT token_hash, used_at FROM auth.refresh_tokens WHERE parent_id = $1', [rowId])
    const child = r.rows[0]
    if (!child || child.used_at) return undefined
    const successor = openSuccessor(presented, rowId, box)
    return successor !== undefined && sha256(successor) === child.token_hash ? successor : undefined
  }

  /**
   * Boxes outlive their grace window only until the next rotation anywhere: each rotation wipes a
   * batch of expired ones (rows other requests hold are left for the next sweep).
   */
  private async wipeStaleBoxes(): Promise<void> {
    try {
      await this.pool.query(
        `UPDATE auth.refresh_tokens SET successor_box = NULL
          WHERE id IN (SELECT id FROM auth.refresh_tokens
                        WHERE successor_box IS NOT NULL AND used_at <= clock_timestamp() - make_interval(secs => $1)
                        LIMIT 100 FOR UPDATE SKIP LOCKED)`,
        [this.config.AUTH_REFRESH_GRACE_SECONDS]
      )
    } catch (err) {
      this.log.warn({ err }, 'wiping expired refresh successor boxes failed')
    }
  }

  /**
   * Revokes sessions of a user (only active ones; returns their ids): database first, then this
   * instance's caches, then every other auth/gateway/service instance over NATS.
   */
  async revokeSessions(userId: string, reason: RevokeReason, which: { sessionIds?: string[]; exceptSessionId?: string }): Promise<string[]> {
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
    const r = await this.pool.query<{ id: string }>(
      `UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL${filter} RETURNING id`,
      params
    )
    const ids = r.rows.map((x) => x.id)
    if (ids.length > 0) this.announceRevocation(userId, ids, reason)
    return ids
  }

  private announceRevocation(userId: string, sessionIds: string[], reason: RevokeReason): void {
    this.cache.revoke(sessionIds)
    for (let i = 0; i < sessionIds.length; i += 1000) {
      natsPublish(this.nats, AuthSessionRevoked, { userId, sessionIds: sessionIds.slice(i, i + 1000), reason, at: new Date().toISOString() })
    }
  }

  /**
   * The identity behind an access token, as cheaply as possible: a cache hit costs one sha256;
   * a miss verifies the signature and asks the database whether the session is still alive.
   */
  async verifyAccess(token: string, hash = TokenCache.hash(token)): Promise<VerifiedAccess> {
    const now = Math.floor(Date.now() / 1000)
    const hit = this.cache.get(hash, now)
    if (hit) return hit
    const known = this.cache.rejectedReason(hash)
    if (known) throw new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
    let claims
    try {
      claims = verifyAccessToken(this.keys, token, { issuer: this.config.AUTH_ISSUER, maxTtlSeconds: this.config.AUTH_ACCESS_TTL_SECONDS })
    } catch (err) {
      if (err instanceof AccessTokenError) {
        if (err.reason === 'expired') throw new ProblemError(401, ErrorCode.tokenExpired, 'Access token expired')
        this.cache.reject(hash, err.reason)
        throw new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
      }
      throw err
    }
    if (this.cache.isRevoked(claims.sid)) throw new ProblemError(401, ErrorCode.sessionRevoked, 'Session revoked')
    const [row] = await this.db
      .select({ revokedAt: sessions.revokedAt, expiresAt: sessions.expiresAt, roles: users.roles })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(and(eq(sessions.id, claims.sid), eq(sessions.userId, claims.sub)))
      .limit(1)
    if (!row) {
      this.cache.reject(hash, 'no session')
      throw new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
    }
    if (row.revokedAt || row.expiresAt.getTime() <= Date.now()) {
      this.cache.revoke([claims.sid])
      throw new ProblemError(401, ErrorCode.sessionRevoked, 'Session revoked')
    }
    const verified: VerifiedAccess = { userId: claims.sub, sessionId: claims.sid, roles: row.roles, exp: claims.exp }
    this.cache.set(hash, verified, now)
    return verified
  }

  /** The session an access token names, checking the signature but not the expiry (logout with a stale token). */
  sessionOfToken(token: string): { userId: string; sessionId: string } | undefined {
    try {
      const c = verifyAccessToken(this.keys, token, { issuer: this.config.AUTH_ISSUER, maxTtlSeconds: this.config.AUTH_ACCESS_TTL_SECONDS, ignoreExpiration: true })
      return { userId: c.sub, sessionId: c.sid }
    } catch {
      return undefined
    }
  }

  async sessionOfRefreshToken(token: string): Promise<{ userId: string; sessionId: string } | undefined> {
    const r = await this.pool.query<{ user_id: string; session_id: string }>(
      'SELECT s.user_id, s.id AS session_id FROM auth.refresh_tokens rt JOIN auth.sessions s ON s.id = rt.session_id WHERE rt.token_hash = $1 AND rt.used_at IS NULL',
      [sha256(token)]
    )
    const row = r.rows[0]
    return row ? { userId: row.user_id, sessionId: row.session_id } : undefined
  }

  /** True when the session exists, belongs to the user, is not revoked and not past its end. */
  async sessionActive(userId: string, sessionId: string): Promise<boolean> {
    if (this.cache.isRevoked(sessionId)) return false
    const rows = await this.db
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, sql`now()`)))
      .limit(1)
    return rows.length > 0
  }
}

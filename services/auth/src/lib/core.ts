import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Database, Outbox } from '@palisade/platform'
import type { AuthConfig } from '../config.js'
import { appendAudit, type AuditEntry } from './audit.js'
import type { AuthDeps } from './deps.js'
import type { Keyring } from './keyring.js'
import { rotateRefreshToken } from './refresh-rotation.js'
import { createSession, revokeSessions, sessionActive, sessionOfRefreshToken, type RevokeReason } from './sessions.js'
import { sessionOfToken, verifyAccess, type IssuedTokens } from './tokens.js'
import { TokenCache, type VerifiedAccess } from './token-cache.js'
import { findUserByEmail, findUserById, type UserRow } from './users.js'

/**
 * Everything the routes share: tokens, sessions, revocation (DB + caches + NATS) and the audit
 * trail. The work is done by the feature modules (users, sessions, tokens, refresh-rotation).
 */
export class AuthCore implements AuthDeps {
  readonly cache: TokenCache

  constructor(
    readonly db: Database,
    readonly pool: pg.Pool,
    readonly nats: NatsConnection,
    readonly outbox: Outbox,
    readonly keys: Keyring,
    readonly config: AuthConfig,
    readonly log: FastifyBaseLogger,
    /** told of every audit entry once it is stored (auth's metrics) */
    private readonly onAudit: (entry: AuditEntry) => void = () => {}
  ) {
    // A revoked session must be remembered for as long as any of its access tokens can live.
    this.cache = new TokenCache((config.AUTH_ACCESS_TTL_SECONDS + 60) * 1000)
  }

  async audit(entry: AuditEntry): Promise<void> {
    await appendAudit(this.pool, entry)
    this.onAudit(entry)
  }

  findUserByEmail(email: string): Promise<UserRow | undefined> {
    return findUserByEmail(this.db, email)
  }

  findUserById(id: string): Promise<UserRow | undefined> {
    return findUserById(this.db, id)
  }

  createSession(userId: string, userAgent: string, ip: string): Promise<IssuedTokens> {
    return createSession(this, userId, userAgent, ip)
  }

  rotateRefreshToken(presented: string, ip: string): Promise<IssuedTokens & { userId: string }> {
    return rotateRefreshToken(this, presented, ip)
  }

  revokeSessions(userId: string, reason: RevokeReason, which: { sessionIds?: string[]; exceptSessionId?: string }): Promise<string[]> {
    return revokeSessions(this, userId, reason, which)
  }

  verifyAccess(token: string, hash?: string): Promise<VerifiedAccess> {
    return verifyAccess(this, token, hash)
  }

  sessionOfToken(token: string): { userId: string; sessionId: string } | undefined {
    return sessionOfToken(this, token)
  }

  sessionOfRefreshToken(token: string): Promise<{ userId: string; sessionId: string } | undefined> {
    return sessionOfRefreshToken(this, token)
  }

  sessionActive(userId: string, sessionId: string): Promise<boolean> {
    return sessionActive(this, userId, sessionId)
  }
}

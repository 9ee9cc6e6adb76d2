import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import {
  ErrorCode,
  PERSONAL_TOKEN_PATTERN,
  PERSONAL_TOKEN_PREFIX,
  PERSONAL_TOKENS_PER_USER,
  type CreateTokenBody,
  type PersonalToken,
  type TokenScope
} from '@palisade/contracts'
import { ProblemError, withTransaction } from '@palisade/platform'
import type { AuthDeps } from './deps.js'
import { emitRevocation } from './sessions.js'
import type { VerifiedAccess } from './token-cache.js'

const RANDOM_LENGTH = 43

function checksum(random: string): string {
  return createHash('sha256').update(`${PERSONAL_TOKEN_PREFIX}${random}`).digest('base64url').slice(0, 6)
}

/**
 * A new token: the prefix, 256 random bits (base64url) and a 6-character checksum of both, so
 * scanners can tell a real token from a look-alike and /verify refuses typos without a database
 * read.
 */
export function newPersonalToken(): string {
  const random = randomBytes(32).toString('base64url')
  return `${PERSONAL_TOKEN_PREFIX}${random}${checksum(random)}`
}

/** True when the string has the token's shape and its checksum matches. */
export function isWellFormedPersonalToken(token: string): boolean {
  if (!PERSONAL_TOKEN_PATTERN.test(token)) return false
  const random = token.slice(PERSONAL_TOKEN_PREFIX.length, PERSONAL_TOKEN_PREFIX.length + RANDOM_LENGTH)
  const expected = Buffer.from(checksum(random))
  const given = Buffer.from(token.slice(PERSONAL_TOKEN_PREFIX.length + RANDOM_LENGTH))
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export function isPersonalToken(token: string): boolean {
  return token.startsWith(PERSONAL_TOKEN_PREFIX)
}

/**
 * The roles a token acts with: the user's, minus `admin` unless the token has the admin scope (a
 * leaked read token of an admin must not open admin routes).
 */
export function tokenRoles(userRoles: readonly string[], scopes: readonly string[]): string[] {
  if (scopes.includes('admin') || !userRoles.includes('admin')) return [...userRoles]
  return ['member'] // roles are exclusive: an admin's token without the admin scope acts as a member
}

interface TokenRow {
  id: string
  user_id: string
  name: string
  last4: string
  scopes: TokenScope[]
  created_at: Date
  expires_at: Date
  last_used_at: Date | null
}

export function tokenView(row: TokenRow): PersonalToken {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    last4: row.last4,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    lastUsedAt: row.last_used_at ? row.last_used_at.toISOString() : null
  }
}

/**
 * The identity behind a personal access token (the caller already looked in the cache): a live
 * row (not revoked, not expired) of a user that still exists. Cached like an access token, but for
 * at most an access-token lifetime, so a role change reaches tokens as fast as it reaches sessions.
 */
export async function verifyPersonalToken(deps: AuthDeps, token: string, hash: string): Promise<VerifiedAccess> {
  const { cache } = deps
  const unauthenticated = () => new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required')
  if (cache.rejectedReason(hash)) throw unauthenticated()
  if (!isWellFormedPersonalToken(token)) {
    cache.reject(hash, 'malformed')
    throw unauthenticated()
  }
  // A disabled user's tokens were revoked with the disable; the user's state is checked as well.
  const r = await deps.pool.query<{ id: string; user_id: string; scopes: TokenScope[]; expires_at: Date; revoked: boolean; roles: string[] }>(
    `SELECT t.id, t.user_id, t.scopes, t.expires_at, (t.revoked_at IS NOT NULL OR u.disabled_at IS NOT NULL) AS revoked, u.roles
       FROM auth.personal_tokens t JOIN auth.users u ON u.id = t.user_id WHERE t.token_hash = $1`,
    [hash]
  )
  const row = r.rows[0]
  if (!row) {
    cache.reject(hash, 'unknown')
    throw unauthenticated()
  }
  if (row.revoked) {
    cache.revoke([row.id])
    throw new ProblemError(401, ErrorCode.sessionRevoked, 'Token revoked')
  }
  const now = Math.floor(Date.now() / 1000)
  const expires = Math.floor(row.expires_at.getTime() / 1000)
  if (expires <= now) throw new ProblemError(401, ErrorCode.tokenExpired, 'Token expired')
  if (cache.isRevoked(row.id)) throw new ProblemError(401, ErrorCode.sessionRevoked, 'Token revoked')
  const verified: VerifiedAccess = {
    userId: row.user_id,
    sessionId: row.id,
    roles: tokenRoles(row.roles, row.scopes),
    exp: Math.min(expires, now + deps.config.AUTH_ACCESS_TTL_SECONDS),
    scopes: row.scopes
  }
  cache.set(hash, verified, now)
  return verified
}

/** Creates a token; the caller has checked step-up and that only an admin asks for `admin`. */
export async function createPersonalToken(deps: AuthDeps, userId: string, body: CreateTokenBody): Promise<{ token: string; info: PersonalToken }> {
  const token = newPersonalToken()
  const id = randomUUID()
  const row = await withTransaction(deps.pool, async (client) => {
    // One creation at a time per user, so two parallel ones cannot both pass the count.
    await client.query('SELECT id FROM auth.users WHERE id = $1 FOR UPDATE', [userId])
    const active = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM auth.personal_tokens WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()',
      [userId]
    )
    if ((active.rows[0]?.n ?? 0) >= PERSONAL_TOKENS_PER_USER) {
      throw new ProblemError(409, ErrorCode.conflict, `At most ${PERSONAL_TOKENS_PER_USER} active tokens; revoke one first`)
    }
    const r = await client.query<TokenRow>(
      `INSERT INTO auth.personal_tokens (id, user_id, name, token_hash, last4, scopes, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7))
       RETURNING id, user_id, name, last4, scopes, created_at, expires_at, last_used_at`,
      [id, userId, body.name, tokenHash(token), token.slice(-4), body.scopes, body.expiresInDays]
    )
    return r.rows[0]!
  })
  return { token, info: tokenView(row) }
}

/** The same hash the verify cache keys on (sha256, base64url). */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

/** The user's tokens that still work, newest first. */
export async function listPersonalTokens(deps: AuthDeps, userId: string): Promise<PersonalToken[]> {
  const r = await deps.pool.query<TokenRow>(
    `SELECT id, user_id, name, last4, scopes, created_at, expires_at, last_used_at FROM auth.personal_tokens
      WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC, id LIMIT $2`,
    [userId, PERSONAL_TOKENS_PER_USER]
  )
  return r.rows.map(tokenView)
}

/**
 * Revokes tokens of a user (all of them, or those listed): the database and the session-revocation
 * event in one transaction (the outbox relay tells every other auth, gateway and service instance),
 * then this instance's cache —
 * the token id is the session id, so open sockets close like a revoked session's. Returns the ids.
 * Disabling an account or changing its role revokes its tokens too (admin-accounts.ts).
 */
export async function revokePersonalTokens(deps: AuthDeps, userId: string, tokenIds?: string[]): Promise<string[]> {
  const ids = await deps.outbox.transaction(async (client, emit) => {
    const r = await client.query<{ id: string }>(
      `UPDATE auth.personal_tokens SET revoked_at = now()
        WHERE user_id = $1 AND revoked_at IS NULL${tokenIds ? ' AND id = ANY($2::uuid[])' : ''} RETURNING id`,
      tokenIds ? [userId, tokenIds] : [userId]
    )
    const ids = r.rows.map((x) => x.id)
    emitRevocation(emit, userId, ids, 'token-revoked')
    return ids
  })
  deps.cache.revoke(ids)
  return ids
}

/** True when `id` is a live token of the user (a token is its own session on forward-authed auth routes). */
export async function personalTokenActive(deps: AuthDeps, userId: string, id: string): Promise<boolean> {
  if (deps.cache.isRevoked(id)) return false
  const r = await deps.pool.query('SELECT 1 FROM auth.personal_tokens WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()', [
    id,
    userId
  ])
  return (r.rowCount ?? 0) > 0
}

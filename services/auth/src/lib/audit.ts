import { createHash } from 'node:crypto'
import type pg from 'pg'
import { withTransaction } from '@palisade/platform'

export type AuditEvent =
  | 'user.registered'
  | 'login.succeeded'
  | 'login.failed'
  | 'login.throttled'
  | 'refresh.reused'
  | 'refresh.grace'
  | 'logout'
  | 'logout.all'
  | 'session.revoked'
  | 'password.changed'
  | 'password.change_failed'
  | 'password.reset'
  | 'login.refused_disabled'
  | 'session.evicted'
  | 'admin.created'
  | 'admin.user_disabled'
  | 'admin.user_enabled'
  | 'admin.role_changed'
  | 'admin.factors_reset'
  | 'admin.reset_link_issued'
  | 'admin.invite_created'
  | 'admin.invite_revoked'
  | MfaAuditEvent
  | 'token.created'
  | 'token.revoked'
  | 'oidc.failed'
  | 'oidc.refused'
  | 'oidc.linked'
  | 'oidc.unlinked'
  | 'login.oidc_ok'
  | 'oidc.backchannel_logout'
  | 'oidc.frontchannel_logout'
  | 'oidc.role_changed'
  | 'oidc.role_change_refused'

/** Second factors, passkeys and step-up. */
export type MfaAuditEvent =
  | 'login.password_ok'
  | 'mfa.failed'
  | 'mfa.totp_enrolled'
  | 'mfa.totp_removed'
  | 'mfa.passkey_added'
  | 'mfa.passkey_removed'
  | 'mfa.recovery_codes_regenerated'
  | 'reauth.succeeded'
  | 'reauth.failed'

export type AuditDetails = Record<string, string | number | boolean | null>

export interface AuditEntry {
  event: AuditEvent
  userId?: string | null
  sessionId?: string | null
  ip?: string | null
  details?: AuditDetails
}

export interface AuditRow {
  id: number
  at: Date
  event: string
  userId: string | null
  sessionId: string | null
  ip: string | null
  details: AuditDetails
  prevHash: string
  hash: string
}

export const GENESIS_HASH = '0'.repeat(64)
/** Any constant works; it serialises appends across every auth instance sharing the database. */
const CHAIN_LOCK = 0x5a_4e_55_41 // "AUTH"

/** JSON with object keys sorted at every level: jsonb does not keep key order, the hash must not care. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
}

/** hash = sha256(prevHash || canonical content), content covering every stored column but the hashes. */
export function rowHash(prevHash: string, row: Omit<AuditRow, 'prevHash' | 'hash'>): string {
  const content = canonicalJson({
    id: row.id,
    at: row.at.toISOString(),
    event: row.event,
    userId: row.userId,
    sessionId: row.sessionId,
    ip: row.ip,
    details: row.details
  })
  return createHash('sha256').update(prevHash).update(content).digest('hex')
}

/**
 * Appends one entry. Under a transaction-scoped advisory lock the last row is read and the new
 * one gets the next id and the chained hash; either both happen or neither.
 */
export async function appendAudit(pool: pg.Pool, entry: AuditEntry): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK])
    const last = await client.query<{ id: string; hash: string }>('SELECT id, hash FROM auth.audit_log ORDER BY id DESC LIMIT 1')
    const prevHash = last.rows[0]?.hash ?? GENESIS_HASH
    const row = {
      id: last.rows[0] ? Number(last.rows[0].id) + 1 : 1,
      at: new Date(),
      event: entry.event,
      userId: entry.userId ?? null,
      sessionId: entry.sessionId ?? null,
      ip: entry.ip ?? null,
      details: entry.details ?? {}
    }
    const hash = rowHash(prevHash, row)
    await client.query(
      'INSERT INTO auth.audit_log (id, at, event, user_id, session_id, ip, details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
      [row.id, row.at, row.event, row.userId, row.sessionId, row.ip, JSON.stringify(row.details), prevHash, hash]
    )
  })
}

export type ChainVerdict = { ok: true; rows: number; head: string } | { ok: false; rows: number; brokenAt: number; reason: string }

/**
 * Walks the chain in id order (in pages, so any size fits in memory) and reports the first row
 * whose id, link or own hash does not match what the rows before it imply.
 */
export async function verifyAuditChain(pool: pg.Pool, pageSize = 1000): Promise<ChainVerdict> {
  let prev = GENESIS_HASH
  let expectedId = 1
  let count = 0
  for (;;) {
    const page = await pool.query<{
      id: string
      at: Date
      event: string
      user_id: string | null
      session_id: string | null
      ip: string | null
      details: AuditDetails
      prev_hash: string
      hash: string
    }>('SELECT id, at, event, user_id, session_id, ip, details, prev_hash, hash FROM auth.audit_log WHERE id >= $1 ORDER BY id LIMIT $2', [
      expectedId,
      pageSize
    ])
    for (const r of page.rows) {
      const id = Number(r.id)
      if (id !== expectedId) return { ok: false, rows: count, brokenAt: expectedId, reason: `row ${expectedId} is missing (next is ${id})` }
      if (r.prev_hash !== prev) return { ok: false, rows: count, brokenAt: id, reason: 'prev_hash does not match the previous row' }
      const expected = rowHash(prev, { id, at: r.at, event: r.event, userId: r.user_id, sessionId: r.session_id, ip: r.ip, details: r.details })
      if (r.hash !== expected) return { ok: false, rows: count, brokenAt: id, reason: 'content does not match its hash' }
      prev = r.hash
      expectedId = id + 1
      count++
    }
    if (page.rows.length < pageSize) break
  }
  const rowsBelow = await pool.query<{ n: string }>('SELECT count(*) AS n FROM auth.audit_log WHERE id < 1')
  if (Number(rowsBelow.rows[0]?.n) > 0) return { ok: false, rows: count, brokenAt: 0, reason: 'rows with ids below 1 exist' }
  return { ok: true, rows: count, head: prev }
}

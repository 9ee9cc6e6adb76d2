import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { Invite } from '@palisade/contracts'
import { newRefreshToken, sha256 } from './refresh-token.js'

/** Links carry tokens in the fragment: it never leaves the browser (no access log, no Referer). */
export const invitePath = (token: string) => `/login#invite=${token}`

interface InviteRow {
  id: string
  email: string | null
  created_by: string | null
  created_at: Date
  expires_at: Date
  used_at: Date | null
  revoked_at: Date | null
}

const COLUMNS = 'id, email, created_by, created_at, expires_at, used_at, revoked_at'

function view(r: InviteRow): Invite {
  return {
    id: r.id,
    email: r.email,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    expiresAt: r.expires_at.toISOString(),
    usedAt: r.used_at?.toISOString() ?? null,
    revokedAt: r.revoked_at?.toISOString() ?? null
  }
}

/** A new invite; its token exists only in the answer (stored as sha256). */
export async function createInvite(pool: pg.Pool, by: string, email: string | null, ttlHours: number): Promise<{ invite: Invite; token: string }> {
  const token = newRefreshToken()
  const r = await pool.query<InviteRow>(
    `INSERT INTO auth.invites (id, token_hash, email, created_by, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(hours => $5))
     RETURNING ${COLUMNS}`,
    [randomUUID(), sha256(token), email, by, ttlHours]
  )
  return { invite: view(r.rows[0]!), token }
}

/** The newest invites, used and revoked ones included (their history is what an admin audits). */
export async function listInvites(pool: pg.Pool): Promise<Invite[]> {
  const r = await pool.query<InviteRow>(`SELECT ${COLUMNS} FROM auth.invites ORDER BY created_at DESC LIMIT 200`)
  return r.rows.map(view)
}

/** Revokes an unused invite; false when there is no such invite or it is used or revoked already. */
export async function revokeInvite(pool: pg.Pool, id: string): Promise<boolean> {
  const r = await pool.query('UPDATE auth.invites SET revoked_at = now() WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL', [id])
  return (r.rowCount ?? 0) > 0
}

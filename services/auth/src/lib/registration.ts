import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { ErrorCode, type RegistrationMode, type Role } from '@palisade/contracts'
import { ProblemError, problems, withTransaction } from '@palisade/platform'
import { sha256 } from './refresh-token.js'

/**
 * Serialises everything that decides who is (or stays) an admin across every auth instance: the
 * first registration of a fresh installation, promotions, demotions and disabling. Any constant
 * works; it only has to differ from the audit chain's.
 */
export const ACCOUNTS_LOCK = 0x41_44_4d_4e // "ADMN"

export interface NewAccount {
  email: string
  displayName: string
  passwordHash: string
}

export interface CreatedAccount {
  id: string
  roles: Role[]
  createdAt: Date
  inviteId: string | null
}

/**
 * The mode in force: the configured one, or — unset — `invite` once an admin exists and `open`
 * before (an installation upgraded without any admin keeps working until ops name one).
 */
export async function registrationMode(client: pg.ClientBase, configured: RegistrationMode | undefined): Promise<RegistrationMode> {
  if (configured) return configured
  const r = await client.query("SELECT 1 FROM auth.users WHERE roles = '{admin}'::text[] AND disabled_at IS NULL LIMIT 1")
  return r.rowCount ? 'invite' : 'open'
}

/**
 * Creates an account under the accounts lock, so the decisions it makes cannot race: the very
 * first account of an installation becomes its admin (two simultaneous first registrations give
 * exactly one admin), and an invite is consumed in the same transaction as the account it creates
 * (single use; refused registrations leave it unused). `as: 'ops'` is `pnpm admin`: no mode check.
 */
export async function createAccount(
  pool: pg.Pool,
  account: NewAccount,
  how: { as: 'self'; mode: RegistrationMode | undefined; invite?: string | undefined } | { as: 'ops'; role: Role }
): Promise<CreatedAccount> {
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [ACCOUNTS_LOCK])
    const first = (await client.query('SELECT 1 FROM auth.users LIMIT 1')).rowCount === 0
    let role: Role = how.as === 'ops' ? how.role : first ? 'admin' : 'member'
    let inviteId: string | null = null
    if (how.as === 'self' && !first) {
      const mode = await registrationMode(client, how.mode)
      if (mode === 'closed') throw new ProblemError(403, ErrorCode.registrationClosed, 'Registration is closed on this installation')
      if (mode === 'invite' || how.invite !== undefined) {
        if (how.invite === undefined) throw new ProblemError(403, ErrorCode.inviteRequired, 'Registration needs an invite from an administrator')
        inviteId = await consumeInvite(client, how.invite, account.email)
      }
      role = 'member'
    }
    const id = randomUUID()
    const inserted = await client.query<{ created_at: Date }>(
      `INSERT INTO auth.users (id, email, display_name, password_hash, roles) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (email) DO NOTHING RETURNING created_at`,
      [id, account.email, account.displayName, account.passwordHash, [role]]
    )
    // Throwing rolls the invite back too: an address already taken does not burn it.
    if (!inserted.rows[0]) throw problems.conflict('An account with this email already exists', ErrorCode.emailTaken)
    if (inviteId) await client.query('UPDATE auth.invites SET used_by = $2 WHERE id = $1', [inviteId, id])
    return { id, roles: [role], createdAt: inserted.rows[0].created_at, inviteId }
  })
}

/**
 * Marks an invite used, atomically: of two registrations racing with one invite, the second's
 * UPDATE waits for the first and then finds it used. Unknown, used, revoked, expired and
 * wrong-address invites are all refused alike (the answer never tells which address it is for).
 */
async function consumeInvite(client: pg.PoolClient, token: string, email: string): Promise<string> {
  const r = await client.query<{ id: string; email: string | null }>(
    `UPDATE auth.invites SET used_at = now()
      WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
      RETURNING id, email`,
    [sha256(token)]
  )
  const row = r.rows[0]
  if (!row || (row.email !== null && row.email !== email)) {
    throw new ProblemError(403, ErrorCode.inviteInvalid, 'This invite is not valid (used, expired, revoked, or meant for another address)')
  }
  return row.id
}

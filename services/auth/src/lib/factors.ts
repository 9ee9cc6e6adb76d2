import type pg from 'pg'

/** A factor as administrators see it: kind, name, since when. Never a secret. */
export interface FactorView {
  kind: string
  name: string
  createdAt: Date | null
}

/**
 * What a second-factor module (TOTP, passkeys, recovery codes) tells the admin side. Each module
 * registers one provider in `FACTOR_PROVIDERS`; the admin API lists and resets factors only
 * through these, so it never reads a factor table itself.
 */
export interface FactorProvider {
  kind: string
  /** the user's factors of this kind */
  list(db: pg.ClientBase, userId: string): Promise<FactorView[]>
  /**
   * removes every factor of this kind of the user, inside the admin's transaction; returns how many
   * were removed
   */
  reset(db: pg.ClientBase, userId: string): Promise<number>
}

const removed = (r: { rowCount: number | null }) => r.rowCount ?? 0

/**
 * The second-factor modules (tables in db/mfa-schema.ts): what an admin sees of them and what
 * "reset factors" removes — the authenticator app (also one whose enrolment was never confirmed),
 * every passkey and every recovery code. Someone reset must enrol again when AUTH_REQUIRE_MFA
 * says so.
 */
export const FACTOR_PROVIDERS: FactorProvider[] = [
  {
    kind: 'totp',
    async list(db, userId) {
      const r = await db.query<{ confirmed_at: Date }>('SELECT confirmed_at FROM auth.totp_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL', [userId])
      return r.rows.map((x) => ({ kind: 'totp', name: 'Authenticator app', createdAt: x.confirmed_at }))
    },
    reset: async (db, userId) => removed(await db.query('DELETE FROM auth.totp_factors WHERE user_id = $1', [userId]))
  },
  {
    kind: 'passkey',
    async list(db, userId) {
      const r = await db.query<{ name: string; created_at: Date }>('SELECT name, created_at FROM auth.passkeys WHERE user_id = $1 ORDER BY created_at', [
        userId
      ])
      return r.rows.map((x) => ({ kind: 'passkey', name: `Passkey “${x.name}”`.slice(0, 128), createdAt: x.created_at }))
    },
    reset: async (db, userId) => removed(await db.query('DELETE FROM auth.passkeys WHERE user_id = $1', [userId]))
  },
  {
    kind: 'recovery-codes',
    async list(db, userId) {
      const r = await db.query<{ n: number; since: Date | null }>(
        'SELECT count(*)::int AS n, min(created_at) AS since FROM auth.recovery_codes WHERE user_id = $1 AND used_at IS NULL',
        [userId]
      )
      const row = r.rows[0]
      return row && row.n > 0 ? [{ kind: 'recovery-codes', name: `Recovery codes (${row.n} unused)`, createdAt: row.since }] : []
    },
    reset: async (db, userId) => removed(await db.query('DELETE FROM auth.recovery_codes WHERE user_id = $1', [userId]))
  }
]

/** Every factor of a user: the password first, then what each provider lists. */
export async function listFactors(db: pg.ClientBase, userId: string, passwordSince: Date): Promise<FactorView[]> {
  const out: FactorView[] = [{ kind: 'password', name: 'Password', createdAt: passwordSince }]
  for (const p of FACTOR_PROVIDERS) out.push(...(await p.list(db, userId)))
  return out
}

/** Resets every second factor of a user; returns the kinds that had something removed. */
export async function resetFactors(db: pg.ClientBase, userId: string): Promise<string[]> {
  const reset: string[] = []
  for (const p of FACTOR_PROVIDERS) if ((await p.reset(db, userId)) > 0) reset.push(p.kind)
  return reset
}

import { generateSecret, generateURI, verify } from 'otplib'
import type pg from 'pg'
import { openSecret, sealSecret, type MfaKeys } from './mfa-keys.js'

/** RFC 6238 defaults every authenticator app understands: SHA-1, 6 digits, 30 s; ±1 step of clock drift. */
const ISSUER = 'Palisade'
const DRIFT_SECONDS = 30

export interface TotpDeps {
  readonly pool: pg.Pool
  readonly mfaKeys: MfaKeys
}

/**
 * Starts (or restarts) a TOTP enrolment: a new secret, sealed at rest, not usable until confirmed
 * with a code. Refused (undefined) while a confirmed factor exists: remove that one first.
 */
export async function startTotpEnrolment(deps: TotpDeps, user: { id: string; email: string }): Promise<{ secret: string; uri: string } | undefined> {
  const secret = generateSecret()
  const r = await deps.pool.query(
    `INSERT INTO auth.totp_factors (user_id, secret_box) VALUES ($1, $2)
     ON CONFLICT (user_id) DO UPDATE SET secret_box = EXCLUDED.secret_box, created_at = now(), last_step = NULL
       WHERE auth.totp_factors.confirmed_at IS NULL`,
    [user.id, sealSecret(deps.mfaKeys, secret, user.id)]
  )
  if (r.rowCount !== 1) return undefined
  return { secret, uri: generateURI({ issuer: ISSUER, label: user.email, secret }) }
}

/**
 * Checks a code against the user's TOTP factor (`pending`: the one being enrolled, else the
 * confirmed one) and, when it matches, records its time step in the same statement that checks the
 * step is newer than the last accepted one: a code is accepted once, even by two requests at once.
 */
export async function acceptTotpCode(deps: TotpDeps, userId: string, code: string, which: 'confirmed' | 'pending' = 'confirmed'): Promise<boolean> {
  const r = await deps.pool.query<{ secret_box: string; last_step: string | null }>(
    `SELECT secret_box, last_step FROM auth.totp_factors WHERE user_id = $1 AND confirmed_at IS ${which === 'confirmed' ? 'NOT NULL' : 'NULL'}`,
    [userId]
  )
  const row = r.rows[0]
  if (!row) return false
  const secret = openSecret(deps.mfaKeys, row.secret_box, userId)
  const lastStep = row.last_step === null ? undefined : Number(row.last_step)
  const result = await verify({
    secret,
    token: code,
    epochTolerance: DRIFT_SECONDS,
    ...(lastStep !== undefined ? { afterTimeStep: lastStep } : {})
  })
  // (the result type also covers HOTP, which has no time step)
  if (!result.valid || !('timeStep' in result)) return false
  const set = which === 'pending' ? ', confirmed_at = now()' : ''
  const u = await deps.pool.query(
    `UPDATE auth.totp_factors SET last_step = $2${set}
     WHERE user_id = $1 AND secret_box = $3 AND (last_step IS NULL OR last_step < $2)`,
    [userId, result.timeStep, row.secret_box]
  )
  return u.rowCount === 1
}

export async function removeTotp(pool: pg.Pool, userId: string): Promise<boolean> {
  const r = await pool.query('DELETE FROM auth.totp_factors WHERE user_id = $1', [userId])
  return (r.rowCount ?? 0) > 0
}

/** What the account has enrolled (confirmed factors only). */
export async function factorSummary(pool: pg.Pool, userId: string): Promise<{ totpConfirmedAt: Date | null; passkeys: number; recoveryLeft: number }> {
  const r = await pool.query<{ totp: Date | null; passkeys: string; recovery: string }>(
    `SELECT (SELECT confirmed_at FROM auth.totp_factors WHERE user_id = $1) AS totp,
              (SELECT count(*) FROM auth.passkeys WHERE user_id = $1) AS passkeys,
              (SELECT count(*) FROM auth.recovery_codes WHERE user_id = $1 AND used_at IS NULL) AS recovery`,
    [userId]
  )
  const row = r.rows[0]!
  return { totpConfirmedAt: row.totp, passkeys: Number(row.passkeys), recoveryLeft: Number(row.recovery) }
}

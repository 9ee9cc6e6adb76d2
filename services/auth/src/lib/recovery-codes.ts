import { randomInt, randomUUID } from 'node:crypto'
import type pg from 'pg'
import { RECOVERY_CODE_COUNT } from '@palisade/contracts'
import { withTransaction } from '@palisade/platform'
import { hashRecoveryCode, type MfaKeys } from './mfa-keys.js'

// Crockford's base32 alphabet (no I, L, O, U): 12 characters = 60 random bits per code.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

function newCode(): string {
  let s = ''
  for (let i = 0; i < 12; i++) s += ALPHABET[randomInt(ALPHABET.length)]
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8)}`
}

/** Case, spaces and dashes do not matter; the letters people confuse with digits read as those digits. */
export function normaliseRecoveryCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1')
}

/** Replaces every recovery code of the user with RECOVERY_CODE_COUNT new ones; returns them (shown once, kept hashed). */
export async function regenerateRecoveryCodes(deps: { pool: pg.Pool; mfaKeys: MfaKeys }, userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode)
  await withTransaction(deps.pool, async (client) => {
    await client.query('DELETE FROM auth.recovery_codes WHERE user_id = $1', [userId])
    for (const code of codes) {
      await client.query('INSERT INTO auth.recovery_codes (id, user_id, code_hash) VALUES ($1, $2, $3)', [
        randomUUID(),
        userId,
        hashRecoveryCode(deps.mfaKeys, normaliseRecoveryCode(code))
      ])
    }
  })
  return codes
}

/** Spends one unused recovery code of the user; false when it is not one, or already spent. */
export async function useRecoveryCode(deps: { pool: pg.Pool; mfaKeys: MfaKeys }, userId: string, code: string): Promise<boolean> {
  const r = await deps.pool.query('UPDATE auth.recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL', [
    userId,
    hashRecoveryCode(deps.mfaKeys, normaliseRecoveryCode(code))
  ])
  return r.rowCount === 1
}

export async function deleteRecoveryCodes(pool: pg.Pool, userId: string): Promise<void> {
  await pool.query('DELETE FROM auth.recovery_codes WHERE user_id = $1', [userId])
}

import type pg from 'pg'
import { withTransaction } from '@palisade/platform'

/** Failed attempts on one account (from anywhere) within the window before it answers 429. */
export const LOGIN_MAX_FAILURES = 5
export const LOGIN_WINDOW_SECONDS = 300

export interface LoginLimits {
  /** failures from one address (its limit key: IPv4 address or IPv6 /64), over all accounts, per window */
  maxAddressFailures: number
}

export type ThrottleReason = 'account' | 'address' | 'in-flight'

export type LoginAttemptResult = { throttled: true; reason: ThrottleReason; retryAfterSeconds: number } | { throttled: false; ok: boolean }

interface Verdict {
  account_wait: string | null
  address_wait: string | null
  account_rows: string
}

/**
 * Brute-force regulation shared by every auth instance, around one password check (`check`):
 *
 * - per account: LOGIN_MAX_FAILURES failures in the window lock the account (429 with the time
 *   until the oldest counted failure leaves the window), from every address;
 * - per address: `maxAddressFailures` failures over all accounts throttle that address only;
 * - attempts in flight count against their account only, so at most LOGIN_MAX_FAILURES guesses at
 *   one account are ever being checked at once, while people who sign in at the same moment from
 *   one address are never counted against each other.
 *
 * The attempt is stored as in flight while `check` runs (under a per-account advisory lock only
 * for the count and the insert, never across the password check), then becomes a failure or is
 * deleted. Only real failures count against an address. A success clears the account's failures
 * (not the address's: one good account must not launder guesses at others).
 */
export async function loginAttempt(
  pool: pg.Pool,
  limits: LoginLimits,
  account: string,
  address: string,
  check: () => Promise<boolean>,
  /**
   * After a success: true keeps the account's failures counted (a password whose second factor is
   * still due must not wipe the failed codes, or password + 4 guesses could repeat forever)
   */
  keepFailures: () => boolean = () => false
): Promise<LoginAttemptResult> {
  const begun = await begin(pool, limits, account, address)
  if ('reason' in begun) return { throttled: true, ...begun }
  let ok: boolean
  try {
    ok = await check()
  } catch (err) {
    // Not a verdict on the password (e.g. the database went away): the attempt is dropped, not counted.
    await pool.query('DELETE FROM auth.login_failures WHERE id = $1', [begun.id]).catch(() => {})
    throw err
  }
  if (ok && keepFailures()) {
    await pool.query('DELETE FROM auth.login_failures WHERE id = $1', [begun.id])
  } else if (ok) {
    // Other attempts still in flight stay: they settle as failures or vanish on their own.
    await pool.query('DELETE FROM auth.login_failures WHERE id = $1 OR (account = $2 AND NOT in_flight)', [begun.id, account])
  } else {
    await pool.query('UPDATE auth.login_failures SET in_flight = false WHERE id = $1', [begun.id])
  }
  return { throttled: false, ok }
}

async function begin(
  pool: pg.Pool,
  limits: LoginLimits,
  account: string,
  address: string
): Promise<{ id: string } | { reason: ThrottleReason; retryAfterSeconds: number }> {
  return withTransaction(pool, async (client) => {
    // Serialises count-then-insert per account; the address budget counts settled failures only,
    // which need no lock (overshooting it by the attempts of one moment is harmless).
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`login:${account}`])
    const res = await client.query<Verdict>(
      `SELECT
         (SELECT EXTRACT(EPOCH FROM (at + make_interval(secs => $3) - now())) FROM auth.login_failures
            WHERE account = $1 AND NOT in_flight AND at > now() - make_interval(secs => $3) ORDER BY at DESC OFFSET $4 - 1 LIMIT 1) AS account_wait,
         (SELECT EXTRACT(EPOCH FROM (at + make_interval(secs => $3) - now())) FROM auth.login_failures
            WHERE ip = $2 AND NOT in_flight AND at > now() - make_interval(secs => $3) ORDER BY at DESC OFFSET $5 - 1 LIMIT 1) AS address_wait,
         (SELECT count(*) FROM auth.login_failures WHERE account = $1 AND at > now() - make_interval(secs => $3)) AS account_rows`,
      [account, address, LOGIN_WINDOW_SECONDS, LOGIN_MAX_FAILURES, limits.maxAddressFailures]
    )
    const row = res.rows[0]!
    const wait = (v: string | null) => (v === null ? 0 : Math.max(1, Math.ceil(Number(v))))
    if (wait(row.account_wait) > 0) return { reason: 'account' as const, retryAfterSeconds: wait(row.account_wait) }
    if (wait(row.address_wait) > 0) return { reason: 'address' as const, retryAfterSeconds: wait(row.address_wait) }
    // Failures plus attempts being checked reach the limit: the next one waits for those to settle.
    if (Number(row.account_rows) >= LOGIN_MAX_FAILURES) return { reason: 'in-flight' as const, retryAfterSeconds: 1 }
    const ins = await client.query<{ id: string }>('INSERT INTO auth.login_failures (account, ip, in_flight) VALUES ($1, $2, true) RETURNING id', [
      account,
      address
    ])
    return { id: ins.rows[0]!.id }
  })
}

export async function pruneLoginFailures(pool: pg.Pool): Promise<void> {
  await pool.query('DELETE FROM auth.login_failures WHERE at < now() - make_interval(secs => $1)', [LOGIN_WINDOW_SECONDS * 2])
}

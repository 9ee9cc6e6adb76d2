import type pg from 'pg'

export const LOGIN_MAX_FAILURES = 5
export const LOGIN_WINDOW_SECONDS = 300

export type ThrottleDecision = { allowed: true; attemptId: string } | { allowed: false; retryAfterSeconds: number }

/**
 * Brute-force regulation shared by every auth instance. Under per-account and per-IP advisory locks
 * (taken in a fixed order), counts the failures of the last window; when either count has reached
 * the limit the attempt is refused with the time until the oldest counted failure leaves the
 * window. Otherwise the attempt is recorded as a failure *before* the password is checked (so a
 * burst of parallel guesses cannot slip past the count) and removed again if it succeeds.
 */
export async function beginLoginAttempt(pool: pg.Pool, account: string, ip: string): Promise<ThrottleDecision> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    const keys = [`a:${account}`, `i:${ip}`].sort()
    for (const k of keys) await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [k])
    const res = await client.query<{ kind: string; wait: string | null }>(
      `SELECT 'account' AS kind, (SELECT EXTRACT(EPOCH FROM (at + make_interval(secs => $3) - now())) FROM auth.login_failures
          WHERE account = $1 AND at > now() - make_interval(secs => $3) ORDER BY at DESC OFFSET $4 - 1 LIMIT 1) AS wait
       UNION ALL
       SELECT 'ip', (SELECT EXTRACT(EPOCH FROM (at + make_interval(secs => $3) - now())) FROM auth.login_failures
          WHERE ip = $2 AND at > now() - make_interval(secs => $3) ORDER BY at DESC OFFSET $4 - 1 LIMIT 1)`,
      [account, ip, LOGIN_WINDOW_SECONDS, LOGIN_MAX_FAILURES]
    )
    const waits = res.rows.map((r) => (r.wait === null ? 0 : Number(r.wait))).filter((w) => w > 0)
    if (waits.length > 0) {
      await client.query('COMMIT')
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(Math.max(...waits))) }
    }
    const ins = await client.query<{ id: string }>('INSERT INTO auth.login_failures (account, ip) VALUES ($1, $2) RETURNING id', [account, ip])
    await client.query('COMMIT')
    return { allowed: true, attemptId: ins.rows[0]!.id }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client.release()
  }
}

/** A successful login clears the account's failures (the IP's stay: one good account must not launder guesses on others). */
export async function loginSucceeded(pool: pg.Pool, account: string, attemptId: string): Promise<void> {
  await pool.query('DELETE FROM auth.login_failures WHERE id = $1 OR account = $2', [attemptId, account])
}

export async function pruneLoginFailures(pool: pg.Pool): Promise<void> {
  await pool.query('DELETE FROM auth.login_failures WHERE at < now() - make_interval(secs => $1)', [LOGIN_WINDOW_SECONDS * 2])
}

import type pg from 'pg'
import { ErrorCode, STEP_UP_MAX_AGE_SECONDS } from '@palisade/contracts'
import { ProblemError } from '@palisade/platform'

/**
 * Step-up: a sensitive action (password or factor change, recovery codes, admin actions) needs the
 * session's last proof of the user — password, second factor, passkey or POST /auth/reauth — to be
 * at most `maxAgeSeconds` old, else 401 `REAUTH_REQUIRED`. Time is the database's, like every other
 * session clock, so several auth instances agree.
 */
export async function assertRecentAuthentication(
  deps: { readonly pool: pg.Pool },
  who: { userId: string; sessionId: string },
  maxAgeSeconds: number = STEP_UP_MAX_AGE_SECONDS
): Promise<void> {
  const r = await deps.pool.query<{ fresh: boolean }>(
    'SELECT authenticated_at > now() - make_interval(secs => $3) AS fresh FROM auth.sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL',
    [who.sessionId, who.userId, maxAgeSeconds]
  )
  if (r.rows[0]?.fresh !== true) throw new ProblemError(401, ErrorCode.reauthRequired, 'Confirm it is you (password, code or passkey) to continue')
}

/** Records a fresh proof of the user on the session; returns when that was. */
export async function markAuthenticated(deps: { readonly pool: pg.Pool }, who: { userId: string; sessionId: string }): Promise<Date> {
  const r = await deps.pool.query<{ authenticated_at: Date }>(
    'UPDATE auth.sessions SET authenticated_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING authenticated_at',
    [who.sessionId, who.userId]
  )
  const row = r.rows[0]
  if (!row) throw new ProblemError(401, ErrorCode.sessionRevoked, 'Session revoked')
  return row.authenticated_at
}

import { randomUUID } from 'node:crypto'
import { ErrorCode } from '@palisade/contracts'
import { ProblemError, withTransaction } from '@palisade/platform'
import type { AuthDeps } from './deps.js'
import { newRefreshToken, sha256 } from './refresh-token.js'
import { emitRevocation } from './sessions.js'

/** How long a password-reset link works. */
export const RESET_LINK_TTL_SECONDS = 3600

/** In the fragment, like invites: the token never reaches a server log or a Referer. */
export const resetPath = (token: string) => `/login#reset=${token}`

/**
 * A one-time reset link for a user (there is no mail server: the admin hands it over). Issuing one
 * voids the user's earlier unused links, so only the newest can work.
 */
export async function issueResetLink(deps: AuthDeps, userId: string, by: string): Promise<{ id: string; token: string; expiresAt: Date }> {
  const token = newRefreshToken()
  const id = randomUUID()
  const expiresAt = await withTransaction(deps.pool, async (client) => {
    await client.query('UPDATE auth.password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL', [userId])
    const r = await client.query<{ expires_at: Date }>(
      `INSERT INTO auth.password_resets (id, user_id, token_hash, created_by, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING expires_at`,
      [id, userId, sha256(token), by, RESET_LINK_TTL_SECONDS]
    )
    return r.rows[0]!.expires_at
  })
  return { id, token, expiresAt }
}

/**
 * Uses a reset link: marks it used, sets the password and revokes every session of the account,
 * all in one transaction (two uses racing: the second finds it used). Unknown, used and expired
 * links are refused alike.
 */
export async function useResetLink(
  deps: AuthDeps,
  token: string,
  passwordHash: (userId: string) => Promise<string>
): Promise<{ userId: string; linkId: string }> {
  const out = await deps.outbox.transaction(async (client, emit) => {
    const r = await client.query<{ id: string; user_id: string }>(
      'UPDATE auth.password_resets SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING id, user_id',
      [sha256(token)]
    )
    const link = r.rows[0]
    if (!link) throw new ProblemError(400, ErrorCode.resetLinkInvalid, 'This reset link is not valid (used, expired or replaced by a newer one)')
    await client.query('UPDATE auth.users SET password_hash = $2, password_changed_at = now() WHERE id = $1', [link.user_id, await passwordHash(link.user_id)])
    const s = await client.query<{ id: string }>(
      "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'password-reset' WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
      [link.user_id]
    )
    const revoked = s.rows.map((x) => x.id)
    emitRevocation(emit, link.user_id, revoked, 'password-reset')
    return { userId: link.user_id, linkId: link.id, revoked }
  })
  deps.cache.revoke(out.revoked)
  return { userId: out.userId, linkId: out.linkId }
}

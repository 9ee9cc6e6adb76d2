import type pg from 'pg'
import type { ServerMetadata } from 'openid-client'
import type { AuthCore } from '../core.js'
import type { ProviderSession } from '../mfa-ticket.js'
import type { OidcProvider } from './providers.js'

/** Records which provider session started a Palisade session (for the provider's logouts). */
export async function rememberProviderSession(pool: pg.Pool, sessionId: string, userId: string, from: ProviderSession): Promise<void> {
  await pool.query('INSERT INTO auth.oidc_sessions (session_id, user_id, issuer, subject, sid) VALUES ($1, $2, $3, $4, $5)', [
    sessionId,
    userId,
    from.issuer,
    from.subject,
    from.sid ?? null
  ])
}

/** The configured provider whose discovered issuer is `iss` (exactly), with its metadata. */
export async function providerByIssuer(
  providers: ReadonlyMap<string, OidcProvider>,
  iss: string
): Promise<{ provider: OidcProvider; metadata: ServerMetadata } | undefined> {
  for (const provider of providers.values()) {
    const metadata = (await provider.configuration()).serverMetadata()
    if (metadata.issuer === iss) return { provider, metadata }
  }
  return undefined
}

/**
 * Revokes the Palisade sessions a provider session started: by `sid` when given, else (or also,
 * when both are given) by subject. The usual revocation event closes their sockets. Returns how
 * many sessions ended.
 */
export async function endProviderSessions(core: AuthCore, issuer: string, which: { sid: string | undefined; sub: string | undefined }): Promise<number> {
  const r = await core.pool.query<{ session_id: string; user_id: string }>(
    `SELECT session_id, user_id FROM auth.oidc_sessions
      WHERE issuer = $1 AND ($2::text IS NULL OR sid = $2) AND ($3::text IS NULL OR subject = $3)`,
    [issuer, which.sid ?? null, which.sub ?? null]
  )
  const byUser = new Map<string, string[]>()
  for (const row of r.rows) byUser.set(row.user_id, [...(byUser.get(row.user_id) ?? []), row.session_id])
  let ended = 0
  for (const [userId, sessionIds] of byUser) ended += (await core.revokeSessions(userId, 'logout', { sessionIds })).length
  await core.pool.query('DELETE FROM auth.oidc_sessions WHERE session_id = ANY($1::uuid[])', [r.rows.map((x) => x.session_id)])
  return ended
}

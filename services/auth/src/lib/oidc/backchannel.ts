import type pg from 'pg'
import type { ServerMetadata } from 'openid-client'
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose'
import { ErrorCode } from '@palisade/contracts'
import { ProblemError } from '@palisade/platform'
import type { AuthCore } from '../core.js'
import type { OidcProvider } from './providers.js'
import type { ProviderSession } from '../mfa-ticket.js'

const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

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

/** How old (by its `iat`) a logout token may be. */
const LOGOUT_TOKEN_MAX_AGE_SECONDS = 600

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

const refused = () => new ProblemError(400, ErrorCode.oidcFailed, 'Invalid logout token')
const jwksByIssuer = new Map<string, ReturnType<typeof createRemoteJWKSet>>()

/**
 * Verifies a logout token (signature from the provider's JWKS, issuer, audience = our client id,
 * iat, a `jti` not seen before, the back-channel event, sub or sid, no nonce) and revokes the
 * Palisade sessions that provider session started. Returns how many sessions ended.
 */
export async function backchannelLogout(core: AuthCore, providers: ReadonlyMap<string, OidcProvider>, token: string): Promise<number> {
  let iss: string | undefined
  try {
    iss = decodeJwt(token).iss
  } catch {
    throw refused()
  }
  const found = iss ? await providerByIssuer(providers, iss) : undefined
  const provider = found?.provider
  const jwksUri = found?.metadata.jwks_uri
  if (!provider || !iss || !jwksUri) throw refused()
  const jwks = jwksByIssuer.get(iss) ?? createRemoteJWKSet(new URL(jwksUri))
  jwksByIssuer.set(iss, jwks)
  let claims: Record<string, unknown>
  try {
    claims = (
      await jwtVerify(token, jwks, {
        issuer: iss,
        audience: provider.settings.clientId,
        requiredClaims: ['iat', 'jti'],
        maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS
      })
    ).payload
  } catch {
    throw refused()
  }
  const events = claims.events as Record<string, unknown> | undefined
  const sub = typeof claims.sub === 'string' ? claims.sub : undefined
  const sid = typeof claims.sid === 'string' ? claims.sid : undefined
  const jti = claims.jti
  if (!events || typeof events[LOGOUT_EVENT] !== 'object' || 'nonce' in claims || (!sub && !sid)) throw refused()
  if (typeof jti !== 'string' || jti.length > 255) throw refused()
  await spendJti(core.pool, iss, jti, claims.iat as number)
  try {
    return await endProviderSessions(core, iss, { sid, sub })
  } catch (err) {
    // Nothing ended: the provider may deliver the same token again.
    await core.pool.query('DELETE FROM auth.oidc_logout_tokens WHERE issuer = $1 AND jti = $2', [iss, jti])
    throw err
  }
}

/**
 * Records a logout token's `jti` until the token would fail the age check anyway (iat + 10 min,
 * with a minute to spare); a `jti` already recorded for this issuer is a replay and refused.
 */
async function spendJti(pool: pg.Pool, issuer: string, jti: string, iat: number): Promise<void> {
  await pool.query('DELETE FROM auth.oidc_logout_tokens WHERE expires_at < now()')
  const r = await pool.query(
    `INSERT INTO auth.oidc_logout_tokens (issuer, jti, expires_at)
     VALUES ($1, $2, greatest(to_timestamp($3), now()) + make_interval(secs => $4)) ON CONFLICT DO NOTHING`,
    [issuer, jti, iat, LOGOUT_TOKEN_MAX_AGE_SECONDS + 60]
  )
  if (r.rowCount !== 1) throw refused()
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

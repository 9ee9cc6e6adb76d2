import type pg from 'pg'
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose'
import { ErrorCode } from '@palisade/contracts'
import { ProblemError } from '@palisade/platform'
import type { AuthCore } from '../core.js'
import type { OidcProvider } from './providers.js'
import type { VerifiedIdentity } from './flow.js'

const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

export async function rememberProviderSession(pool: pg.Pool, sessionId: string, userId: string, identity: VerifiedIdentity): Promise<void> {
  await pool.query('INSERT INTO auth.oidc_sessions (session_id, user_id, issuer, subject, sid) VALUES ($1, $2, $3, $4, $5)', [
    sessionId,
    userId,
    identity.issuer,
    identity.subject,
    identity.sid ?? null
  ])
}

const refused = () => new ProblemError(400, ErrorCode.oidcFailed, 'Invalid logout token')
const jwksByIssuer = new Map<string, ReturnType<typeof createRemoteJWKSet>>()

/**
 * Verifies a logout token (signature from the provider's JWKS, issuer, audience = our client id,
 * iat, the back-channel event, sub or sid, no nonce) and revokes the Palisade sessions that provider
 * session started — by `sid` when given, else every session from that (issuer, subject). Returns
 * how many sessions ended.
 */
export async function backchannelLogout(core: AuthCore, providers: ReadonlyMap<string, OidcProvider>, token: string): Promise<number> {
  let iss: string | undefined
  try {
    iss = decodeJwt(token).iss
  } catch {
    throw refused()
  }
  let provider: OidcProvider | undefined
  let jwksUri: string | undefined
  for (const p of providers.values()) {
    const meta = (await p.configuration()).serverMetadata()
    if (meta.issuer === iss) {
      provider = p
      jwksUri = meta.jwks_uri
      break
    }
  }
  if (!provider || !iss || !jwksUri) throw refused()
  const jwks = jwksByIssuer.get(iss) ?? createRemoteJWKSet(new URL(jwksUri))
  jwksByIssuer.set(iss, jwks)
  let claims: Record<string, unknown>
  try {
    claims = (await jwtVerify(token, jwks, { issuer: iss, audience: provider.settings.clientId, requiredClaims: ['iat', 'jti'], maxTokenAge: '10m' })).payload
  } catch {
    throw refused()
  }
  const events = claims.events as Record<string, unknown> | undefined
  const sub = typeof claims.sub === 'string' ? claims.sub : undefined
  const sid = typeof claims.sid === 'string' ? claims.sid : undefined
  if (!events || typeof events[LOGOUT_EVENT] !== 'object' || 'nonce' in claims || (!sub && !sid)) throw refused()
  const r = await core.pool.query<{ session_id: string; user_id: string }>(
    `SELECT session_id, user_id FROM auth.oidc_sessions
      WHERE issuer = $1 AND ($2::text IS NULL OR sid = $2) AND ($3::text IS NULL OR subject = $3)`,
    [iss, sid ?? null, sub ?? null]
  )
  const byUser = new Map<string, string[]>()
  for (const row of r.rows) byUser.set(row.user_id, [...(byUser.get(row.user_id) ?? []), row.session_id])
  let ended = 0
  for (const [userId, sessionIds] of byUser) ended += (await core.revokeSessions(userId, 'logout', { sessionIds })).length
  await core.pool.query('DELETE FROM auth.oidc_sessions WHERE session_id = ANY($1::uuid[])', [r.rows.map((x) => x.session_id)])
  return ended
}

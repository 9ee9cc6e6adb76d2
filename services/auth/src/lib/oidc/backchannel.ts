import type pg from 'pg'
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose'
import { ErrorCode } from '@palisade/contracts'
import { ProblemError } from '@palisade/platform'
import type { AuthCore } from '../core.js'
import type { OidcProvider } from './providers.js'
import { endProviderSessions, providerByIssuer } from './provider-sessions.js'

const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

/** How old (by its `iat`) a logout token may be. */
const LOGOUT_TOKEN_MAX_AGE_SECONDS = 600

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

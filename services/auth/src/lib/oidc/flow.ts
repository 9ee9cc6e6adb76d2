import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import * as client from 'openid-client'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { OIDC_FLOW_COOKIE, OIDC_FLOW_PATH, OIDC_FLOW_TTL_SECONDS } from '@palisade/contracts'
import { newRefreshToken, sha256 } from '../refresh-token.js'
import { oidcFailed, type OidcProvider } from './providers.js'

export type FlowIntent = { kind: 'login' } | { kind: 'link'; userId: string; sessionId: string }

export interface Flow {
  id: string
  provider: string
  state: string
  nonce: string
  codeVerifier: string
  next: string
  intent: FlowIntent
}

export function redirectUri(origin: string, providerId: string): string {
  return `${origin}${OIDC_FLOW_PATH}/${providerId}/callback`
}

/**
 * Starts an authorization-code flow: fresh state, nonce and PKCE verifier, kept server-side under
 * the hash of a 256-bit cookie value, so only the browser that started the flow can finish it.
 * Returns the provider's authorization URL.
 */
export async function startFlow(pool: pg.Pool, reply: FastifyReply, provider: OidcProvider, origin: string, next: string, intent: FlowIntent): Promise<string> {
  const configuration = await provider.configuration()
  const cookie = newRefreshToken()
  const flow = { state: client.randomState(), nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier() }
  await pool.query(
    `INSERT INTO auth.oidc_flows (id, cookie_hash, provider, state, nonce, code_verifier, intent, next, user_id, session_id, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(secs => $11))`,
    [
      randomUUID(),
      sha256(cookie),
      provider.settings.id,
      flow.state,
      flow.nonce,
      flow.codeVerifier,
      intent.kind,
      next,
      intent.kind === 'link' ? intent.userId : null,
      intent.kind === 'link' ? intent.sessionId : null,
      OIDC_FLOW_TTL_SECONDS
    ]
  )
  await pool.query("DELETE FROM auth.oidc_flows WHERE expires_at < now() - interval '1 hour'")
  // Lax, not Strict: the callback is a top-level navigation coming from the provider's site.
  reply.setCookie(OIDC_FLOW_COOKIE, cookie, { httpOnly: true, secure: true, sameSite: 'lax', path: OIDC_FLOW_PATH, maxAge: OIDC_FLOW_TTL_SECONDS })
  const url = client.buildAuthorizationUrl(configuration, {
    redirect_uri: redirectUri(origin, provider.settings.id),
    scope: provider.scope,
    state: flow.state,
    nonce: flow.nonce,
    code_challenge: await client.calculatePKCECodeChallenge(flow.codeVerifier),
    code_challenge_method: 'S256'
  })
  return url.href
}

/**
 * The flow of this browser's cookie for `providerId`, spent at once (single use: a replayed
 * callback finds it used, whatever the provider does with the code). Missing, expired, used → 401.
 */
export async function takeFlow(pool: pg.Pool, request: FastifyRequest, reply: FastifyReply, providerId: string): Promise<Flow> {
  const cookie = request.cookies[OIDC_FLOW_COOKIE]
  reply.clearCookie(OIDC_FLOW_COOKIE, { httpOnly: true, secure: true, sameSite: 'lax', path: OIDC_FLOW_PATH })
  if (!cookie || !/^[A-Za-z0-9_-]{43}$/.test(cookie)) throw oidcFailed('This sign-in attempt has no flow cookie; please start again')
  const r = await pool.query<{
    id: string
    provider: string
    state: string
    nonce: string
    code_verifier: string
    intent: string
    next: string
    user_id: string | null
    session_id: string | null
  }>(
    `UPDATE auth.oidc_flows SET used_at = now()
      WHERE cookie_hash = $1 AND provider = $2 AND used_at IS NULL AND expires_at > now()
      RETURNING id, provider, state, nonce, code_verifier, intent, next, user_id, session_id`,
    [sha256(cookie), providerId]
  )
  const row = r.rows[0]
  if (!row) throw oidcFailed('This sign-in attempt has expired or was already used; please start again')
  const intent: FlowIntent = row.intent === 'link' ? { kind: 'link', userId: row.user_id!, sessionId: row.session_id! } : { kind: 'login' }
  return { id: row.id, provider: row.provider, state: row.state, nonce: row.nonce, codeVerifier: row.code_verifier, next: row.next, intent }
}

export interface VerifiedIdentity {
  issuer: string
  subject: string
  email: string | undefined
  emailVerified: boolean
  name: string | undefined
  amr: string[]
  /** the provider's session id, for its back-channel and front-channel logout */
  sid: string | undefined
  /** the provider's groups claim (AUTH_OIDC_PROVIDERS `groupsClaim`), undefined when it sent none */
  groups: string[] | undefined
}

/**
 * Redeems the code (with the PKCE verifier) and validates the ID token: openid-client checks the
 * state, the issuer, the audience, expiry, the nonce and the signature against the provider's JWKS.
 */
export async function finishFlow(provider: OidcProvider, flow: Flow, callbackUrl: URL): Promise<VerifiedIdentity> {
  const configuration = await provider.configuration()
  let claims: Record<string, unknown>
  try {
    const tokens = await client.authorizationCodeGrant(configuration, callbackUrl, {
      pkceCodeVerifier: flow.codeVerifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true
    })
    const idToken = tokens.claims()
    if (!idToken || typeof idToken.sub !== 'string' || idToken.sub.length === 0 || idToken.sub.length > 255) throw oidcFailed()
    claims = { ...idToken }
    // Many providers put email, name and groups only in the UserInfo answer; it must be about the same subject.
    const groupsMissing = groupRulesOf(provider) && claims[groupsClaimOf(provider)] === undefined
    if ((claims.email === undefined || groupsMissing) && configuration.serverMetadata().userinfo_endpoint) {
      const info = await client.fetchUserInfo(configuration, tokens.access_token, idToken.sub)
      claims = { ...info, ...idToken }
    }
  } catch {
    throw oidcFailed()
  }
  const email = typeof claims.email === 'string' && claims.email.length <= 320 ? claims.email.trim().toLowerCase() : undefined
  return {
    issuer: claims.iss as string,
    subject: claims.sub as string,
    email,
    emailVerified: claims.email_verified === true,
    name: typeof claims.name === 'string' ? claims.name.slice(0, 100) : undefined,
    amr: Array.isArray(claims.amr) ? claims.amr.filter((m): m is string => typeof m === 'string') : [],
    sid: typeof claims.sid === 'string' && claims.sid.length <= 255 ? claims.sid : undefined,
    groups: groupsOf(claims[groupsClaimOf(provider)])
  }
}

const groupsClaimOf = (provider: OidcProvider) => provider.settings.groupsClaim ?? 'groups'
const groupRulesOf = (provider: OidcProvider) => provider.settings.allowedGroups !== undefined || provider.settings.adminGroup !== undefined

/** A groups claim as a list (some providers send one group as a plain string); absent: undefined. */
function groupsOf(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value]
  if (!Array.isArray(value)) return undefined
  return value.filter((g): g is string => typeof g === 'string' && g.length <= 256).slice(0, 1000)
}

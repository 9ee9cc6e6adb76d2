import { randomBytes } from 'node:crypto'
import { Type, type Static } from 'typebox'
import { BaseConfigSchema, generateSigningKey, signingKeyFromPem, type SigningKey } from '@palisade/platform'

export const AuthConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  /**
   * One or more PEM blocks of EC P-256 private keys (or `AUTH_SIGNING_KEYS_FILE`). The first signs;
   * all of them verify and are published in the JWKS, which is how a key rotation works: add the new
   * key first, wait an access-token lifetime, then drop the old one.
   */
  AUTH_SIGNING_KEYS: Type.Optional(Type.String({ minLength: 1 })),
  /** lifetime of an access token (and of the cookie holding it), at most 15 minutes */
  AUTH_ACCESS_TTL_SECONDS: Type.Integer({ minimum: 60, maximum: 900, default: 900 }),
  /**
   * absolute lifetime of a session (and of its refresh tokens, rotated on every use): refreshing
   * never extends it; signing in again starts a new one
   */
  AUTH_REFRESH_TTL_SECONDS: Type.Integer({ minimum: 3600, maximum: 90 * 86400, default: 30 * 86400 }),
  /**
   * seconds during which a just-rotated refresh token still answers with its successor instead of
   * revoking the session (browser tabs sharing one cookie refresh at the same instant); 0 turns it off
   */
  AUTH_REFRESH_GRACE_SECONDS: Type.Integer({ minimum: 0, maximum: 30, default: 10 }),
  /** requests per minute and client IP on each public auth endpoint (register, login and its second steps, refresh, logout) */
  AUTH_RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 30 }),
  /**
   * email lookups (`POST /auth/users/lookup`) per signed-in user and minute; each one tells whether
   * an address has an account, so keep it low
   */
  AUTH_USER_LOOKUPS_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 30 }),
  /** requests per minute one personal access token may make through the edge (per auth instance), bursts up to that */
  AUTH_TOKEN_REQUESTS_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 600 }),
  /**
   * failed logins from one client address (IPv6: one /64) within 5 minutes, over all accounts, before
   * that address alone gets 429; large, so that many people behind one NAT do not lock each other out
   */
  AUTH_LOGIN_FAILURES_PER_ADDRESS: Type.Integer({ minimum: 5, maximum: 1_000_000, default: 100 }),
  /**
   * who may create an account: `open` (anyone), `invite` (an admin's invite), `closed` (nobody; ops
   * use `pnpm admin`). Unset: `invite` once an admin exists, else `open`. The first account of a
   * fresh installation may always register, and becomes its admin
   */
  AUTH_REGISTRATION: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('invite'), Type.Literal('closed')])),
  /** a session not refreshed for this long ends (idle timeout); refreshing cannot push it past AUTH_REFRESH_TTL_SECONDS */
  AUTH_SESSION_IDLE_SECONDS: Type.Integer({ minimum: 900, maximum: 90 * 86400, default: 7 * 86400 }),
  /** live sessions one account may hold; signing in beyond it ends its least recently used one (audited) */
  AUTH_MAX_SESSIONS_PER_USER: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
  /**
   * who must have a second factor (TOTP or passkey): `admins` (accounts with the admin role), `all` or
   * `none`; someone who must and has none is sent to enrol right after the password
   */
  AUTH_REQUIRE_MFA: Type.Union([Type.Literal('admins'), Type.Literal('all'), Type.Literal('none')], { default: 'admins' }),
  /**
   * 32 random bytes (64 hex characters, or `AUTH_MFA_KEY_FILE`) that encrypt TOTP secrets at rest
   * (AES-256-GCM) and key the recovery-code hashes; required in production
   */
  AUTH_MFA_KEY: Type.Optional(Type.String({ minLength: 64, maxLength: 64, pattern: '^[0-9a-fA-F]{64}$' })),
  /**
   * OpenID providers users may sign in with: a JSON array of `{id, name, issuer, clientId,
   * clientSecretFile, scopes?, allowedEmailDomains?, trustMfa?, groupsClaim?, allowedGroups?,
   * adminGroup?}` (or `AUTH_OIDC_PROVIDERS_FILE`); the redirect URI to register is
   * `AUTH_WEBAUTHN_ORIGIN/auth/oidc/<id>/callback` (docs/sso.md)
   */
  AUTH_OIDC_PROVIDERS: Type.Optional(Type.String({ minLength: 2, maxLength: 65536 })),
  /** the web origin passkeys are made for and checked against, exactly (scheme, host, port) */
  AUTH_WEBAUTHN_ORIGIN: Type.String({ minLength: 1, maxLength: 512, default: 'http://localhost:8080' }),
  /** the WebAuthn relying-party id (a registrable domain of the origin); default: the origin's host name */
  AUTH_WEBAUTHN_RP_ID: Type.Optional(Type.String({ minLength: 1, maxLength: 253 }))
})
export type AuthConfig = Static<typeof AuthConfigSchema>

/** The key of TOTP secrets and recovery-code hashes. Without one, only non-production may run on an ephemeral key. */
export function loadMfaKey(config: AuthConfig, warn: (msg: string) => void): Buffer {
  if (config.AUTH_MFA_KEY) return Buffer.from(config.AUTH_MFA_KEY, 'hex')
  if (config.NODE_ENV === 'production') throw new Error('AUTH_MFA_KEY (or AUTH_MFA_KEY_FILE) is required in production')
  warn('AUTH_MFA_KEY is not set: using an ephemeral key (enrolled TOTP factors and recovery codes die with this process)')
  return randomBytes(32)
}

/** RP id and origin for WebAuthn, checked at start: the RP id must be the origin's host or a parent domain of it. */
export function webauthnParty(config: AuthConfig): { rpId: string; origin: string } {
  let url: URL
  try {
    url = new URL(config.AUTH_WEBAUTHN_ORIGIN)
  } catch {
    throw new Error('AUTH_WEBAUTHN_ORIGIN is not a URL')
  }
  if (url.origin !== config.AUTH_WEBAUTHN_ORIGIN) throw new Error(`AUTH_WEBAUTHN_ORIGIN must be a bare origin such as ${url.origin}`)
  const rpId = config.AUTH_WEBAUTHN_RP_ID ?? url.hostname
  if (url.hostname !== rpId && !url.hostname.endsWith(`.${rpId}`)) throw new Error(`AUTH_WEBAUTHN_RP_ID ${rpId} does not cover ${url.hostname}`)
  return { rpId, origin: url.origin }
}

const PEM_BLOCK = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/g

/** The configured signing keys (first one signs). Without any, only non-production may run on an ephemeral key. */
export function loadSigningKeys(config: AuthConfig, warn: (msg: string) => void): SigningKey[] {
  const text = config.AUTH_SIGNING_KEYS?.replace(/\\n/g, '\n')
  if (!text) {
    if (config.NODE_ENV === 'production') throw new Error('AUTH_SIGNING_KEYS (or AUTH_SIGNING_KEYS_FILE) is required in production')
    warn('AUTH_SIGNING_KEYS is not set: using an ephemeral signing key (tokens die with this process)')
    return [generateSigningKey()]
  }
  const blocks = text.match(PEM_BLOCK) ?? []
  if (blocks.length === 0) throw new Error('AUTH_SIGNING_KEYS holds no PEM private key')
  const keys = blocks.map((pem, i) => {
    try {
      return signingKeyFromPem(pem)
    } catch (err) {
      throw new Error(`AUTH_SIGNING_KEYS: key #${i + 1} is not a usable EC P-256 private key (${(err as Error).message})`)
    }
  })
  if (new Set(keys.map((k) => k.kid)).size !== keys.length) throw new Error('AUTH_SIGNING_KEYS lists the same key twice')
  return keys
}

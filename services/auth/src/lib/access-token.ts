import { randomUUID } from 'node:crypto'
import jwt from 'jsonwebtoken'
import { Type, type Static } from 'typebox'
import { validatorFor } from '@palisade/platform'
import { ACCESS_TOKEN_AUDIENCE, RoleSchema, type Role } from '@palisade/contracts'
import type { Keyring } from './keyring.js'

const UUID = { format: 'uuid', minLength: 36, maxLength: 36 } as const
/** Exact claims of an access token; anything else (extra claims included) is refused. */
export const AccessClaimsSchema = Type.Object(
  {
    iss: Type.String({ maxLength: 256 }),
    aud: Type.Literal(ACCESS_TOKEN_AUDIENCE),
    sub: Type.String(UUID),
    sid: Type.String(UUID),
    jti: Type.String({ maxLength: 64 }),
    iat: Type.Integer(),
    exp: Type.Integer(),
    /** the roles at issue (auth's /verify reads the current ones from the database) */
    roles: Type.Array(RoleSchema, { maxItems: 2 })
  },
  { additionalProperties: false }
)
export type AccessClaims = Static<typeof AccessClaimsSchema>

export const MAX_TOKEN_LENGTH = 4096

export function signAccessToken(
  keys: Keyring,
  issuer: string,
  userId: string,
  sessionId: string,
  ttlSeconds: number,
  roles: Role[]
): { token: string; claims: AccessClaims } {
  const iat = Math.floor(Date.now() / 1000)
  const claims: AccessClaims = { iss: issuer, aud: ACCESS_TOKEN_AUDIENCE, sub: userId, sid: sessionId, jti: randomUUID(), iat, exp: iat + ttlSeconds, roles }
  const token = jwt.sign(claims, keys.signer.privateKey, {
    algorithm: 'ES256',
    keyid: keys.signer.kid,
    header: { alg: 'ES256', typ: 'at+jwt', kid: keys.signer.kid }
  })
  return { token, claims }
}

export type AccessTokenFailure = 'malformed' | 'expired' | 'invalid'

export class AccessTokenError extends Error {
  override name = 'AccessTokenError'
  constructor(
    readonly reason: AccessTokenFailure,
    message: string
  ) {
    super(message)
  }
}

/**
 * Verifies an access token: ES256 only (so neither `none` nor HS256 keyed with our public key), a
 * kid we hold, typ `at+jwt` (an identity assertion is not an access token), our issuer, the access
 * audience, not expired, exact claims, and a lifetime no longer than `maxTtlSeconds`.
 */
export function verifyAccessToken(keys: Keyring, token: string, opts: { issuer: string; maxTtlSeconds: number; ignoreExpiration?: boolean }): AccessClaims {
  if (token.length > MAX_TOKEN_LENGTH) throw new AccessTokenError('malformed', 'token too long')
  const decoded = jwt.decode(token, { complete: true })
  if (!decoded || typeof decoded.payload === 'string') throw new AccessTokenError('malformed', 'malformed token')
  const { alg, kid, typ } = decoded.header
  if (alg !== 'ES256') throw new AccessTokenError('invalid', 'unexpected algorithm')
  if (typ !== 'at+jwt') throw new AccessTokenError('invalid', 'not an access token')
  const key = kid ? keys.publicKey(kid) : undefined
  if (!key) throw new AccessTokenError('invalid', 'unknown signing key')
  let payload: unknown
  try {
    payload = jwt.verify(token, key, {
      algorithms: ['ES256'],
      issuer: opts.issuer,
      audience: ACCESS_TOKEN_AUDIENCE,
      clockTolerance: 0,
      ignoreExpiration: opts.ignoreExpiration ?? false
    })
  } catch (err) {
    if (err instanceof jwt.TokenExpiredError) throw new AccessTokenError('expired', 'token expired')
    throw new AccessTokenError('invalid', (err as Error).message)
  }
  if (!validatorFor(AccessClaimsSchema).Check(payload)) throw new AccessTokenError('invalid', 'claims do not match the contract')
  const claims = payload as AccessClaims
  if (claims.exp - claims.iat > opts.maxTtlSeconds || claims.exp <= claims.iat) throw new AccessTokenError('invalid', 'token lifetime out of bounds')
  return claims
}

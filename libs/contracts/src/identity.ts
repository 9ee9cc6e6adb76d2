import { Type, type Static } from 'typebox'
import { UuidSchema } from './common.js'

/** Claims of the short-lived identity assertion auth issues with every forward-authed request. */
export const AssertionClaimsSchema = Type.Object(
  {
    iss: Type.String({ maxLength: 256 }),
    aud: Type.Union([Type.Literal('auth'), Type.Literal('gateway'), Type.Literal('chat'), Type.Literal('files'), Type.Literal('agents')]),
    sub: UuidSchema,
    sid: UuidSchema,
    jti: Type.String({ maxLength: 64 }),
    iat: Type.Integer(),
    exp: Type.Integer(),
    roles: Type.Array(Type.String({ maxLength: 32 }), { maxItems: 16 })
  },
  { additionalProperties: false }
)
export type AssertionClaims = Static<typeof AssertionClaimsSchema>

/** Longest lifetime an assertion may have (seconds). Services reject longer ones. */
export const ASSERTION_MAX_TTL_SECONDS = 60

export const JwkSchema = Type.Object(
  {
    kty: Type.Literal('EC'),
    crv: Type.Literal('P-256'),
    x: Type.String({ maxLength: 64 }),
    y: Type.String({ maxLength: 64 }),
    kid: Type.String({ minLength: 1, maxLength: 64 }),
    alg: Type.Literal('ES256'),
    use: Type.Literal('sig')
  },
  { additionalProperties: false }
)
export type Jwk = Static<typeof JwkSchema>
export const JwksSchema = Type.Object({ keys: Type.Array(JwkSchema, { maxItems: 16 }) }, { additionalProperties: false })
export type Jwks = Static<typeof JwksSchema>

import { Type, type Static } from 'typebox'
import { IsoDateSchema, UuidSchema } from './common.js'

/**
 * Personal access tokens: machine clients (scripts, bots, CI) send `Authorization: Bearer <token>`
 * through the edge like any other request. The token is its own session (its id is the
 * `X-Authenticated-Session`) and carries scopes that /auth/verify checks against the route table.
 */

/** Every token starts with this, so secret scanners (and people) recognise a leaked one. */
export const PERSONAL_TOKEN_PREFIX = 'pal_pat_'
/** prefix + 43 base64url characters (256 random bits) + 6 of checksum */
export const PERSONAL_TOKEN_PATTERN = /^pal_pat_[A-Za-z0-9_-]{43}[A-Za-z0-9_-]{6}$/
/** `Authorization: Bearer <personal access token>` (the JWT form is BEARER_AUTHORIZATION) */
export const PERSONAL_TOKEN_BEARER = /^Bearer (pal_pat_[A-Za-z0-9_-]{49})$/
export const PERSONAL_TOKEN_LENGTH = PERSONAL_TOKEN_PREFIX.length + 43 + 6
export const PERSONAL_TOKEN_MAX_DAYS = 365
export const PERSONAL_TOKEN_NAME_MAX_LENGTH = 64
/** active (unrevoked, unexpired) tokens one user may hold */
export const PERSONAL_TOKENS_PER_USER = 50

/**
 * - `read`: GET the chat API, the user directory, /auth/me, and (with `write`) the WebSocket
 * - `write`: change chat state (messages, conversations)
 * - `files`: the files API; `agents`: the agents API
 * - `admin`: keeps the `admin` role in the identity assertion (only an admin can grant it);
 *   without it a token of an admin acts as a member
 */
export const TOKEN_SCOPES = ['read', 'write', 'files', 'agents', 'admin'] as const
export type TokenScope = (typeof TOKEN_SCOPES)[number]
export const TokenScopeSchema = Type.Union([Type.Literal('read'), Type.Literal('write'), Type.Literal('files'), Type.Literal('agents'), Type.Literal('admin')])

export const CreateTokenBodySchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: PERSONAL_TOKEN_NAME_MAX_LENGTH, pattern: '^[^\\x00-\\x1f\\x7f]+$' }),
    scopes: Type.Array(TokenScopeSchema, { minItems: 1, maxItems: TOKEN_SCOPES.length, uniqueItems: true }),
    /** days until the token stops working, at most a year */
    expiresInDays: Type.Integer({ minimum: 1, maximum: PERSONAL_TOKEN_MAX_DAYS })
  },
  { additionalProperties: false }
)
export type CreateTokenBody = Static<typeof CreateTokenBodySchema>

export const PersonalTokenSchema = Type.Object(
  {
    id: UuidSchema,
    name: Type.String({ maxLength: PERSONAL_TOKEN_NAME_MAX_LENGTH }),
    scopes: Type.Array(TokenScopeSchema, { maxItems: TOKEN_SCOPES.length }),
    /** the token's last four characters, to tell tokens apart without revealing them */
    last4: Type.String({ minLength: 4, maxLength: 4 }),
    createdAt: IsoDateSchema,
    expiresAt: IsoDateSchema,
    lastUsedAt: Type.Union([IsoDateSchema, Type.Null()])
  },
  { additionalProperties: false }
)
export type PersonalToken = Static<typeof PersonalTokenSchema>

export const TokenListSchema = Type.Object({ tokens: Type.Array(PersonalTokenSchema, { maxItems: PERSONAL_TOKENS_PER_USER }) }, { additionalProperties: false })
export type TokenList = Static<typeof TokenListSchema>

/** The answer to a creation: the only time the token itself is ever shown. */
export const CreatedTokenSchema = Type.Object(
  { token: Type.String({ minLength: PERSONAL_TOKEN_LENGTH, maxLength: PERSONAL_TOKEN_LENGTH }), info: PersonalTokenSchema },
  { additionalProperties: false }
)
export type CreatedToken = Static<typeof CreatedTokenSchema>

/**
 * WebSocket clients that cannot set headers (browsers' WebSocket API) may carry a bearer token as
 * one `Sec-WebSocket-Protocol` value, `palisade.bearer.<token>`, offered together with
 * `palisade`: the gateway always answers `palisade` and never echoes the token.
 */
export const WS_SUBPROTOCOL = 'palisade'
export const WS_BEARER_PROTOCOL_PREFIX = 'palisade.bearer.'

/**
 * The bearer token in a Sec-WebSocket-Protocol header: undefined when none is offered, null when
 * the header is malformed or offers more than one.
 */
export function protocolBearer(header: string | string[] | undefined): string | undefined | null {
  if (header === undefined) return undefined
  const values = (Array.isArray(header) ? header.join(',') : header).split(',').map((v) => v.trim())
  const bearers = values.filter((v) => v.startsWith(WS_BEARER_PROTOCOL_PREFIX))
  if (bearers.length === 0) return undefined
  if (bearers.length > 1) return null
  const token = bearers[0]!.slice(WS_BEARER_PROTOCOL_PREFIX.length)
  return PERSONAL_TOKEN_PATTERN.test(token) || /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token) ? token : null
}

import { Type, type Static } from 'typebox'
import { IsoDateSchema, UuidSchema } from './common.js'

/** `aud` of access tokens: never a service name, so an access token can never pass as an identity assertion. */
export const ACCESS_TOKEN_AUDIENCE = 'palisade-access'

/** Cookie names auth sets: the access cookie (Path=/, SameSite=Lax) and the refresh cookie (Path=/auth/refresh, SameSite=Strict). */
export const AUTH_COOKIES = { access: 'palisade_access', refresh: 'palisade_refresh' } as const
export const REFRESH_COOKIE_PATH = '/auth/refresh'

/** `Authorization: Bearer <token>` with a compact JWS as the token (group 1); nothing else is accepted. */
export const BEARER_AUTHORIZATION = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/

export const PASSWORD_MIN_LENGTH = 12
export const PASSWORD_MAX_LENGTH = 1024

export const EmailSchema = Type.String({ format: 'email', minLength: 3, maxLength: 254 })
export const PasswordSchema = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH })
export const DisplayNameSchema = Type.String({ minLength: 1, maxLength: 80, pattern: '^[^\\u0000-\\u001f\\u007f]+$' })

/** Opaque single-use tokens auth hands out (invites, password-reset links): 32 random bytes, base64url. */
export const OneTimeTokenSchema = Type.String({ minLength: 43, maxLength: 43, pattern: '^[A-Za-z0-9_-]+$' })

/** `admin` may use the admin API and console; everyone else is a `member`. Only auth assigns them. */
export const ROLES = ['admin', 'member'] as const
export type Role = (typeof ROLES)[number]
export const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('member')])

export const RegisterBodySchema = Type.Object(
  { email: EmailSchema, password: PasswordSchema, displayName: DisplayNameSchema, invite: Type.Optional(OneTimeTokenSchema) },
  { additionalProperties: false }
)
export type RegisterBody = Static<typeof RegisterBodySchema>

/** Login accepts any password length up to the maximum so that a short wrong password is just wrong. */
export const LoginBodySchema = Type.Object(
  { email: Type.String({ minLength: 1, maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }) },
  { additionalProperties: false }
)
export type LoginBody = Static<typeof LoginBodySchema>

export const UserSchema = Type.Object(
  {
    id: UuidSchema,
    email: Type.String({ maxLength: 254 }),
    displayName: Type.String({ maxLength: 80 }),
    roles: Type.Array(RoleSchema, { maxItems: 2 }),
    createdAt: IsoDateSchema
  },
  { additionalProperties: false }
)
export type User = Static<typeof UserSchema>

export const LoginResponseSchema = Type.Object(
  {
    user: UserSchema,
    sessionId: UuidSchema,
    accessToken: Type.String({ maxLength: 4096 }),
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer({ minimum: 1 })
  },
  { additionalProperties: false }
)
export type LoginResponse = Static<typeof LoginResponseSchema>

/** API clients may send the refresh token in the body; browsers send the scoped cookie. */
export const RefreshBodySchema = Type.Object(
  { refreshToken: Type.Optional(Type.String({ minLength: 43, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' })) },
  { additionalProperties: false }
)
export type RefreshBody = Static<typeof RefreshBodySchema>

export const RefreshResponseSchema = Type.Object(
  {
    sessionId: UuidSchema,
    accessToken: Type.String({ maxLength: 4096 }),
    /** only when the refresh token came in the body (API clients); browsers keep it in the httpOnly cookie */
    refreshToken: Type.Optional(Type.String({ maxLength: 128 })),
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer({ minimum: 1 })
  },
  { additionalProperties: false }
)

export const SessionSchema = Type.Object(
  {
    id: UuidSchema,
    createdAt: IsoDateSchema,
    lastUsedAt: IsoDateSchema,
    userAgent: Type.String({ maxLength: 512 }),
    /** a readable name parsed from the user agent ("Firefox 133 on Windows 10") */
    device: Type.String({ maxLength: 128 }),
    /** the client address of the last use (sign-in or refresh) */
    ip: Type.String({ maxLength: 64 }),
    current: Type.Boolean()
  },
  { additionalProperties: false }
)
export type RefreshResponse = Static<typeof RefreshResponseSchema>
export type Session = Static<typeof SessionSchema>

export const SessionListSchema = Type.Object({ sessions: Type.Array(SessionSchema) }, { additionalProperties: false })

export const ChangePasswordBodySchema = Type.Object(
  { currentPassword: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }), newPassword: PasswordSchema },
  { additionalProperties: false }
)
export type ChangePasswordBody = Static<typeof ChangePasswordBodySchema>

/** Public profile other services may learn about a user (no email: it is not theirs to know). */
export const UserProfileSchema = Type.Object({ id: UuidSchema, displayName: Type.String({ maxLength: 80 }) }, { additionalProperties: false })
export type UserProfile = Static<typeof UserProfileSchema>

/** Most ids one `GET /auth/users?id=…` may name (the same bound as `auth.user.lookup`). */
export const USER_DIRECTORY_MAX_IDS = 100

/**
 * `GET /auth/users?id=…&id=…`: the profiles of 1..100 distinct user ids (unknown ones left out).
 * Never an email.
 */
export const UserDirectoryQuerySchema = Type.Object(
  { id: Type.Array(UuidSchema, { minItems: 1, maxItems: USER_DIRECTORY_MAX_IDS, uniqueItems: true }) },
  { additionalProperties: false }
)
export type UserDirectoryQuery = Static<typeof UserDirectoryQuerySchema>

/**
 * `POST /auth/users/lookup`: the profile of the account with exactly this address (trimmed and
 * lower-cased, as at register and login), else 404. A body, not a query string, so addresses never
 * land in access logs, browser history or Referer headers.
 */
export const UserEmailLookupBodySchema = Type.Object({ email: EmailSchema }, { additionalProperties: false })
export type UserEmailLookupBody = Static<typeof UserEmailLookupBodySchema>

export const UserProfileListSchema = Type.Object(
  { users: Type.Array(UserProfileSchema, { maxItems: USER_DIRECTORY_MAX_IDS }) },
  { additionalProperties: false }
)
export type UserProfileList = Static<typeof UserProfileListSchema>

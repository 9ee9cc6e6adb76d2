import { Type, type Static } from 'typebox'

/** The short-lived httpOnly cookie binding one OIDC flow (state, nonce, PKCE verifier) to one browser. */
export const OIDC_FLOW_COOKIE = 'palisade_oidc'
export const OIDC_FLOW_PATH = '/auth/oidc'
export const OIDC_FLOW_TTL_SECONDS = 600

const Slug = Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z0-9][a-z0-9-]*$' })
const GroupName = Type.String({ minLength: 1, maxLength: 256 })

/** One provider as ops configure it (AUTH_OIDC_PROVIDERS / AUTH_OIDC_PROVIDERS_FILE, a JSON array). */
export const OidcProviderConfigSchema = Type.Object(
  {
    /** used in URLs: /auth/oidc/<id>/start */
    id: Slug,
    /** shown on the button: "Sign in with <name>" */
    name: Type.String({ minLength: 1, maxLength: 64 }),
    issuer: Type.String({ minLength: 1, maxLength: 512 }),
    clientId: Type.String({ minLength: 1, maxLength: 512 }),
    /** a file holding the client secret (preferred); or the secret itself */
    clientSecretFile: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    clientSecret: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    scopes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' }), { maxItems: 16 })),
    /** new accounts only for verified addresses in these domains (lower-case); unset: any */
    allowedEmailDomains: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 64 })),
    /** an ID token whose `amr` names a multi-factor method satisfies AUTH_REQUIRE_MFA */
    trustMfa: Type.Optional(Type.Boolean()),
    /** the claim (ID token or UserInfo) listing the user's groups; default `groups` */
    groupsClaim: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:/-]+$' })),
    /** sign-in (and linking) only for identities whose groups claim contains one of these; unset: anyone */
    allowedGroups: Type.Optional(Type.Array(GroupName, { minItems: 1, maxItems: 64 })),
    /**
     * members of this group are admins, everyone else signing in through this provider a member: the
     * role follows the claim at every sign-in through this provider (never demoting the last admin)
     */
    adminGroup: Type.Optional(GroupName)
  },
  { additionalProperties: false }
)
export type OidcProviderConfig = Static<typeof OidcProviderConfigSchema>
export const OidcProvidersConfigSchema = Type.Array(OidcProviderConfigSchema, { maxItems: 16 })

export const OidcProviderListSchema = Type.Object(
  { providers: Type.Array(Type.Object({ id: Slug, name: Type.String({ maxLength: 64 }) }, { additionalProperties: false })) },
  { additionalProperties: false }
)

export const OidcStartQuerySchema = Type.Object({ next: Type.Optional(Type.String({ maxLength: 2048 })) }, { additionalProperties: false })
export const OidcProviderParamsSchema = Type.Object({ provider: Slug }, { additionalProperties: false })

export const OidcIdentitySchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    provider: Type.String({ maxLength: 64 }),
    issuer: Type.String({ maxLength: 512 }),
    email: Type.Union([Type.String({ maxLength: 320 }), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' })
  },
  { additionalProperties: false }
)
export const OidcIdentityListSchema = Type.Object({ identities: Type.Array(OidcIdentitySchema), hasPassword: Type.Boolean() }, { additionalProperties: false })
export const OidcLinkResponseSchema = Type.Object({ url: Type.String({ maxLength: 4096 }) }, { additionalProperties: false })
export type OidcIdentity = Static<typeof OidcIdentitySchema>

/** A provider's back-channel logout request (OpenID Connect Back-Channel Logout 1.0). */
export const OidcBackchannelBodySchema = Type.Object({ logout_token: Type.String({ minLength: 1, maxLength: 8192 }) }, { additionalProperties: false })

/**
 * A provider's front-channel logout request (OpenID Connect Front-Channel Logout 1.0, with
 * `frontchannel_logout_session_required`): the issuer and the provider's session id.
 */
export const OidcFrontchannelQuerySchema = Type.Object(
  { iss: Type.String({ minLength: 1, maxLength: 512 }), sid: Type.String({ minLength: 1, maxLength: 255 }) },
  { additionalProperties: false }
)

/**
 * Why a provider sign-in sent the browser back to the login page (`/login?error=<code>`): a fixed
 * list the login page maps to a message, never text from the request.
 */
export const OIDC_LOGIN_ERRORS = [
  'OIDC_FAILED',
  'OIDC_EMAIL_COLLISION',
  'OIDC_NOT_ALLOWED',
  'OIDC_GROUP_NOT_ALLOWED',
  'INVITE_REQUIRED',
  'REGISTRATION_CLOSED',
  'ACCOUNT_DISABLED',
  'TOO_MANY_REQUESTS'
] as const
export type OidcLoginError = (typeof OIDC_LOGIN_ERRORS)[number]

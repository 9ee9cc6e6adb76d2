import { Type, type Static } from 'typebox'
import { IsoDateSchema, UuidSchema } from './common.js'
import { LoginResponseSchema, PASSWORD_MAX_LENGTH } from './auth.js'

/**
 * Second factors, passkeys, recovery codes and step-up. The ticket cookie carries one login attempt
 * between its password step and its second-factor (or forced enrolment) step; it is httpOnly,
 * SameSite=Strict, scoped to /auth/login and lives at most MFA_TICKET_TTL_SECONDS.
 */
export const MFA_TICKET_COOKIE = 'palisade_mfa'
export const MFA_TICKET_PATH = '/auth/login'
export const MFA_TICKET_TTL_SECONDS = 300
/** How recent the last authentication of a session must be for a sensitive action. */
export const STEP_UP_MAX_AGE_SECONDS = 300
export const RECOVERY_CODE_COUNT = 10
export const PASSKEY_NAME_MAX_LENGTH = 64

export const MfaMethodSchema = Type.Union([Type.Literal('totp'), Type.Literal('recovery'), Type.Literal('passkey')])
export type MfaMethod = Static<typeof MfaMethodSchema>

/**
 * The password step's answer when it is not yet a session: either a second factor is due
 * (`methods` the account can use) or the policy (AUTH_REQUIRE_MFA) wants one enrolled first
 * (`enrolmentRequired`, `methods` what may be enrolled).
 */
export const MfaChallengeResponseSchema = Type.Object(
  {
    mfaRequired: Type.Literal(true),
    enrolmentRequired: Type.Boolean(),
    methods: Type.Array(MfaMethodSchema, { maxItems: 3 }),
    expiresIn: Type.Integer({ minimum: 1 })
  },
  { additionalProperties: false }
)
export type MfaChallengeResponse = Static<typeof MfaChallengeResponseSchema>

export const TotpCodeSchema = Type.String({ minLength: 6, maxLength: 6, pattern: '^[0-9]{6}$' })
/** `xxxx-xxxx-xxxx` in Crockford-like base32 (no I, L, O, U); case and dashes are forgiven. */
export const RecoveryCodeSchema = Type.String({ minLength: 12, maxLength: 20, pattern: '^[A-Za-z0-9 -]+$' })

const B64URL = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: '^[A-Za-z0-9_-]+$' })
/** What the browser's `navigator.credentials` returned, JSON-encoded (as @simplewebauthn/browser does). */
const ExtensionResultsSchema = Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { maxProperties: 8 })
const AttachmentSchema = Type.Optional(Type.Union([Type.Literal('platform'), Type.Literal('cross-platform')]))

export const PasskeyAuthenticationSchema = Type.Object(
  {
    id: B64URL(1024),
    rawId: B64URL(1024),
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: B64URL(4096),
        authenticatorData: B64URL(4096),
        signature: B64URL(1024),
        userHandle: Type.Optional(B64URL(128))
      },
      { additionalProperties: false }
    ),
    clientExtensionResults: ExtensionResultsSchema,
    authenticatorAttachment: AttachmentSchema
  },
  { additionalProperties: false }
)
export type PasskeyAuthentication = Static<typeof PasskeyAuthenticationSchema>

export const PasskeyRegistrationSchema = Type.Object(
  {
    id: B64URL(1024),
    rawId: B64URL(1024),
    type: Type.Literal('public-key'),
    response: Type.Object(
      {
        clientDataJSON: B64URL(4096),
        attestationObject: B64URL(8192),
        authenticatorData: Type.Optional(B64URL(8192)),
        transports: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 })),
        publicKeyAlgorithm: Type.Optional(Type.Integer()),
        publicKey: Type.Optional(B64URL(2048))
      },
      { additionalProperties: false }
    ),
    clientExtensionResults: ExtensionResultsSchema,
    authenticatorAttachment: AttachmentSchema
  },
  { additionalProperties: false }
)
export type PasskeyRegistration = Static<typeof PasskeyRegistrationSchema>

/** One proof of the user: exactly one of a TOTP code, a recovery code or a passkey assertion. */
export const LoginMfaBodySchema = Type.Object(
  { code: Type.Optional(TotpCodeSchema), recoveryCode: Type.Optional(RecoveryCodeSchema), passkey: Type.Optional(PasskeyAuthenticationSchema) },
  { additionalProperties: false, minProperties: 1, maxProperties: 1 }
)
export type LoginMfaBody = Static<typeof LoginMfaBodySchema>

/** `POST /auth/reauth`: the password, a TOTP code or a passkey assertion (exactly one). */
export const ReauthBodySchema = Type.Object(
  {
    password: Type.Optional(Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH })),
    code: Type.Optional(TotpCodeSchema),
    passkey: Type.Optional(PasskeyAuthenticationSchema)
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1 }
)
export type ReauthBody = Static<typeof ReauthBodySchema>

export const ReauthResponseSchema = Type.Object({ authenticatedAt: IsoDateSchema, validFor: Type.Integer({ minimum: 1 }) }, { additionalProperties: false })

/** A new TOTP secret waiting for its first code: the otpauth URI is what the QR code encodes. */
export const TotpEnrolmentSchema = Type.Object(
  { secret: Type.String({ maxLength: 128 }), uri: Type.String({ maxLength: 1024 }) },
  { additionalProperties: false }
)
export type TotpEnrolment = Static<typeof TotpEnrolmentSchema>

export const TotpConfirmBodySchema = Type.Object({ code: TotpCodeSchema }, { additionalProperties: false })

/** Shown once, when made: only their hashes are kept. */
export const RecoveryCodesSchema = Type.Object(
  { recoveryCodes: Type.Array(Type.String({ maxLength: 20 }), { minItems: 0, maxItems: 10 }) },
  { additionalProperties: false }
)
export type RecoveryCodes = Static<typeof RecoveryCodesSchema>

export const PasskeySummarySchema = Type.Object(
  { id: UuidSchema, name: Type.String({ maxLength: PASSKEY_NAME_MAX_LENGTH }), createdAt: IsoDateSchema, lastUsedAt: Type.Union([IsoDateSchema, Type.Null()]) },
  { additionalProperties: false }
)
export type PasskeySummary = Static<typeof PasskeySummarySchema>

export const FactorsSchema = Type.Object(
  {
    totp: Type.Object({ enabled: Type.Boolean(), confirmedAt: Type.Union([IsoDateSchema, Type.Null()]) }, { additionalProperties: false }),
    passkeys: Type.Array(PasskeySummarySchema, { maxItems: 100 }),
    recoveryCodesLeft: Type.Integer({ minimum: 0 }),
    /** whether the policy (AUTH_REQUIRE_MFA) obliges this account to keep a factor */
    required: Type.Boolean()
  },
  { additionalProperties: false }
)
export type Factors = Static<typeof FactorsSchema>

export const PasskeyNameSchema = Type.String({ minLength: 1, maxLength: PASSKEY_NAME_MAX_LENGTH, pattern: '^[^\\u0000-\\u001f\\u007f]+$' })
export const PasskeyRegisterBodySchema = Type.Object({ name: PasskeyNameSchema, credential: PasskeyRegistrationSchema }, { additionalProperties: false })
export type PasskeyRegisterBody = Static<typeof PasskeyRegisterBodySchema>
export const PasskeyLoginBodySchema = Type.Object({ credential: PasskeyAuthenticationSchema }, { additionalProperties: false })

/** WebAuthn options as @simplewebauthn/server makes them; the browser library consumes them as they are. */
export const PasskeyOptionsSchema = Type.Object({ options: Type.Record(Type.String(), Type.Unknown()) }, { additionalProperties: false })

/** The end of a forced enrolment: the session, plus the recovery codes made with the first factor (shown once). */
export const EnrolledLoginResponseSchema = Type.Object(
  { ...LoginResponseSchema.properties, recoveryCodes: RecoveryCodesSchema.properties.recoveryCodes },
  { additionalProperties: false }
)
export type EnrolledLoginResponse = Static<typeof EnrolledLoginResponseSchema>

/** A passkey just registered; `recoveryCodes` holds new ones when it was the account's first factor, else is empty. */
export const PasskeyRegisteredSchema = Type.Object(
  { passkey: PasskeySummarySchema, recoveryCodes: RecoveryCodesSchema.properties.recoveryCodes },
  { additionalProperties: false }
)

import { Type, type Static } from 'typebox'

/** Stable machine-readable codes carried in every problem+json body and NATS error. */
export const ErrorCode = {
  validationFailed: 'VALIDATION_FAILED',
  bodyTooLarge: 'BODY_TOO_LARGE',
  unsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  malformedBody: 'MALFORMED_BODY',
  notFound: 'NOT_FOUND',
  methodNotAllowed: 'METHOD_NOT_ALLOWED',
  unauthenticated: 'UNAUTHENTICATED',
  tokenExpired: 'TOKEN_EXPIRED',
  sessionRevoked: 'SESSION_REVOKED',
  invalidCredentials: 'INVALID_CREDENTIALS',
  forbiddenOrigin: 'FORBIDDEN_ORIGIN',
  forbidden: 'FORBIDDEN',
  conflict: 'CONFLICT',
  emailTaken: 'EMAIL_TAKEN',
  weakPassword: 'WEAK_PASSWORD',
  refreshReused: 'REFRESH_TOKEN_REUSED',
  accountDisabled: 'ACCOUNT_DISABLED',
  registrationClosed: 'REGISTRATION_CLOSED',
  inviteRequired: 'INVITE_REQUIRED',
  inviteInvalid: 'INVITE_INVALID',
  resetLinkInvalid: 'RESET_LINK_INVALID',
  lastAdmin: 'LAST_ADMIN',
  /** a sensitive action needs an authentication within the last 5 minutes: POST /auth/reauth, then retry */
  reauthRequired: 'REAUTH_REQUIRED',
  /** the second-factor step has no valid ticket (missing, expired, already used): start again at the password */
  mfaTicketInvalid: 'MFA_TICKET_INVALID',
  /** a wrong, reused or expired one-time code or recovery code */
  invalidCode: 'INVALID_CODE',
  /** a passkey ceremony that did not verify (unknown credential, wrong origin, challenge used or expired) */
  passkeyRejected: 'PASSKEY_REJECTED',
  /** a personal access token lacks a scope the route needs, or tokens may not use the route at all */
  insufficientScope: 'INSUFFICIENT_SCOPE',
  /** a request carried both a session cookie and an Authorization header: one credential per request */
  mixedCredentials: 'MIXED_CREDENTIALS',
  /** an OIDC sign-in that did not verify: no or wrong flow cookie, wrong state, code refused, ID token invalid */
  oidcFailed: 'OIDC_FAILED',
  /** an OIDC identity whose email belongs to a local account: sign in with it and link from the account page */
  oidcEmailCollision: 'OIDC_EMAIL_COLLISION',
  /** an OIDC identity already linked to another account, or an email domain ops do not allow */
  oidcNotAllowed: 'OIDC_NOT_ALLOWED',
  /** an OIDC identity whose groups claim holds none of the provider's `allowedGroups` */
  oidcGroupNotAllowed: 'OIDC_GROUP_NOT_ALLOWED',
  /** unlinking would leave the account with no way to sign in */
  lastSignInMethod: 'LAST_SIGN_IN_METHOD',
  /** the conversation is archived: read-only for everyone until its owner restores it (409) */
  conversationArchived: 'CONVERSATION_ARCHIVED',
  /** the owner cannot leave while others remain: transfer ownership first (409) */
  ownerMustTransfer: 'OWNER_MUST_TRANSFER',
  tooManyRequests: 'TOO_MANY_REQUESTS',
  quotaExceeded: 'QUOTA_EXCEEDED',
  fileTooLarge: 'FILE_TOO_LARGE',
  unsupportedFileType: 'UNSUPPORTED_FILE_TYPE',
  badGateway: 'BAD_GATEWAY',
  serviceUnavailable: 'SERVICE_UNAVAILABLE',
  timeout: 'TIMEOUT',
  internal: 'INTERNAL'
} as const
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode]

/** RFC 9457 problem details, as every service answers errors. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ maxLength: 2048 }),
    title: Type.String({ maxLength: 256 }),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    code: Type.String({ maxLength: 64 }),
    detail: Type.Optional(Type.String({ maxLength: 4096 })),
    instance: Type.Optional(Type.String({ maxLength: 2048 })),
    errors: Type.Optional(
      Type.Array(Type.Object({ path: Type.String({ maxLength: 512 }), message: Type.String({ maxLength: 512 }) }, { additionalProperties: false }), {
        maxItems: 50
      })
    )
  },
  { additionalProperties: false }
)
export type Problem = Static<typeof ProblemSchema>

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

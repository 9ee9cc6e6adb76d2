import { Type, type Static } from 'typebox'
import { EmailSchema, OneTimeTokenSchema, PasswordSchema, RoleSchema, SessionSchema } from './auth.js'
import { IsoDateSchema, UuidSchema } from './common.js'
import { OidcIdentitySchema } from './oidc.js'

/** `AUTH_REGISTRATION`: who may create an account (the very first account always may). */
export const REGISTRATION_MODES = ['open', 'invite', 'closed'] as const
export type RegistrationMode = (typeof REGISTRATION_MODES)[number]

/** An account as administrators see it (never a password hash, a factor secret or a token). */
export const AdminUserSchema = Type.Object(
  {
    id: UuidSchema,
    email: Type.String({ maxLength: 254 }),
    displayName: Type.String({ maxLength: 80 }),
    roles: Type.Array(RoleSchema, { maxItems: 2 }),
    disabled: Type.Boolean(),
    createdAt: IsoDateSchema
  },
  { additionalProperties: false }
)
export type AdminUser = Static<typeof AdminUserSchema>

/** `GET /auth/admin/users?q=…&after=…`: by email or display name (substring), in email order. */
export const AdminUserQuerySchema = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 254, pattern: '^[^\\u0000-\\u001f\\u007f]*$' })),
    after: Type.Optional(Type.String({ maxLength: 254 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 }))
  },
  { additionalProperties: false }
)
export const AdminUserListSchema = Type.Object({ users: Type.Array(AdminUserSchema, { maxItems: 100 }) }, { additionalProperties: false })

/**
 * A factor as an administrator sees it: its kind, a name and when it was added; never a secret.
 * `password` is always there; other kinds come from the factor modules.
 */
export const AdminFactorSchema = Type.Object(
  {
    kind: Type.String({ maxLength: 32 }),
    name: Type.String({ maxLength: 128 }),
    createdAt: Type.Union([IsoDateSchema, Type.Null()])
  },
  { additionalProperties: false }
)
export const AdminUserDetailSchema = Type.Object(
  {
    user: AdminUserSchema,
    sessions: Type.Array(SessionSchema, { maxItems: 500 }),
    factors: Type.Array(AdminFactorSchema, { maxItems: 100 }),
    /** sign-in providers linked to the account (issuer, provider id, email they gave) */
    identities: Type.Array(OidcIdentitySchema, { maxItems: 100 })
  },
  { additionalProperties: false }
)
export type AdminUserDetail = Static<typeof AdminUserDetailSchema>

export const AdminRoleBodySchema = Type.Object({ role: RoleSchema }, { additionalProperties: false })

export const AdminResetFactorsResponseSchema = Type.Object(
  { reset: Type.Array(Type.String({ maxLength: 32 }), { maxItems: 16 }) },
  { additionalProperties: false }
)

/** A one-time password-reset link: the token is shown once, to the admin who hands it over. */
export const PasswordResetLinkSchema = Type.Object(
  { token: OneTimeTokenSchema, path: Type.String({ maxLength: 128 }), expiresAt: IsoDateSchema },
  { additionalProperties: false }
)
export type PasswordResetLink = Static<typeof PasswordResetLinkSchema>

/** `POST /auth/password-reset` (public): the link's token and the new password. */
export const PasswordResetBodySchema = Type.Object({ token: OneTimeTokenSchema, newPassword: PasswordSchema }, { additionalProperties: false })
export type PasswordResetBody = Static<typeof PasswordResetBodySchema>

export const INVITE_MAX_TTL_HOURS = 24 * 30

export const CreateInviteBodySchema = Type.Object(
  {
    /** bind the invite to this address: registering with any other is refused */
    email: Type.Optional(EmailSchema),
    ttlHours: Type.Optional(Type.Integer({ minimum: 1, maximum: INVITE_MAX_TTL_HOURS, default: 72 }))
  },
  { additionalProperties: false }
)
export type CreateInviteBody = Static<typeof CreateInviteBodySchema>

export const InviteSchema = Type.Object(
  {
    id: UuidSchema,
    email: Type.Union([Type.String({ maxLength: 254 }), Type.Null()]),
    createdBy: Type.Union([UuidSchema, Type.Null()]),
    createdAt: IsoDateSchema,
    expiresAt: IsoDateSchema,
    usedAt: Type.Union([IsoDateSchema, Type.Null()]),
    revokedAt: Type.Union([IsoDateSchema, Type.Null()])
  },
  { additionalProperties: false }
)
export type Invite = Static<typeof InviteSchema>
export const CreatedInviteSchema = Type.Object(
  { invite: InviteSchema, token: OneTimeTokenSchema, path: Type.String({ maxLength: 128 }) },
  { additionalProperties: false }
)
export type CreatedInvite = Static<typeof CreatedInviteSchema>
export const InviteListSchema = Type.Object({ invites: Type.Array(InviteSchema, { maxItems: 200 }) }, { additionalProperties: false })

/** `GET /auth/admin/audit`: newest first, filtered; `before` pages on (an entry id). */
export const AuditQuerySchema = Type.Object(
  {
    userId: Type.Optional(UuidSchema),
    event: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z_.-]+$' })),
    from: Type.Optional(IsoDateSchema),
    to: Type.Optional(IsoDateSchema),
    before: Type.Optional(Type.Integer({ minimum: 1 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 100 }))
  },
  { additionalProperties: false }
)
export type AuditQuery = Static<typeof AuditQuerySchema>

export const AuditEntrySchema = Type.Object(
  {
    id: Type.Integer(),
    at: IsoDateSchema,
    event: Type.String({ maxLength: 64 }),
    userId: Type.Union([UuidSchema, Type.Null()]),
    sessionId: Type.Union([UuidSchema, Type.Null()]),
    ip: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
    details: Type.Record(Type.String({ maxLength: 64 }), Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean(), Type.Null()]))
  },
  { additionalProperties: false }
)
export type AuditLogEntry = Static<typeof AuditEntrySchema>

/** Whether the whole hash chain verifies (checked on every request of the viewer). */
export const AuditChainSchema = Type.Object(
  {
    ok: Type.Boolean(),
    rows: Type.Integer({ minimum: 0 }),
    brokenAt: Type.Optional(Type.Integer({ minimum: 0 })),
    reason: Type.Optional(Type.String({ maxLength: 256 }))
  },
  { additionalProperties: false }
)
export const AuditPageSchema = Type.Object(
  { entries: Type.Array(AuditEntrySchema, { maxItems: 200 }), chain: AuditChainSchema },
  { additionalProperties: false }
)
export type AuditPage = Static<typeof AuditPageSchema>

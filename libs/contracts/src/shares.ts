import { Type, type Static } from 'typebox'
import { IsoDateSchema, UuidSchema } from './common.js'

/**
 * Share links: a file reachable through a 256-bit token, without a session (SHARE_LINKS=public) or
 * with any Palisade account (signed-in). The token is shown once, stored only as its sha256, and
 * travels in the path — so every log on the way redacts these paths (redactTokenPaths) and
 * Traefik's access log is off for their routers (`secretPath` in the route table).
 */
export const SHARE_PATHS = {
  /** opened without a session (SHARE_LINKS=public); a public route of the edge */
  public: '/s',
  /** opened with any account (SHARE_LINKS=signed-in or public); forward-authed */
  signedIn: '/api/files/shared'
} as const

/** `/s/<token>` → `/s/[redacted]`: what every log writes instead of a share-link path. */
export function redactTokenPaths(path: string): string {
  for (const prefix of [SHARE_PATHS.public, SHARE_PATHS.signedIn]) {
    if (path.startsWith(`${prefix}/`)) return `${prefix}/[redacted]`
  }
  return path
}

export const SHARE_LINK_DEFAULT_DAYS = 7
export const SHARE_LINK_MAX_DAYS = 90

/** 32 random bytes, base64url (43 characters). */
export const ShareTokenSchema = Type.String({ minLength: 43, maxLength: 43, pattern: '^[A-Za-z0-9_-]{43}$' })
/** What the open routes accept as a param: anything short; a malformed token is simply not found. */
export const ShareTokenParamsSchema = Type.Object({ token: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false })

/** Most messages one conversation snapshot holds (the newest ones, when a conversation has more). */
export const SNAPSHOT_MAX_MESSAGES = 500

const linkLimits = {
  /** days until the link expires (default 7, at most 90) */
  expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: SHARE_LINK_MAX_DAYS })),
  /** how many times it may be opened; none = until it expires */
  maxUses: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 }))
}

/**
 * A link to one file, or to a read-only snapshot of a conversation taken now: the chosen messages
 * (`messageIds`, among its newest SNAPSHOT_MAX_MESSAGES) or all of them up to now.
 */
export const ShareLinkCreateSchema = Type.Union([
  Type.Object({ fileId: UuidSchema, ...linkLimits }, { additionalProperties: false }),
  Type.Object(
    {
      conversationId: UuidSchema,
      messageIds: Type.Optional(Type.Array(UuidSchema, { minItems: 1, maxItems: SNAPSHOT_MAX_MESSAGES, uniqueItems: true })),
      ...linkLimits
    },
    { additionalProperties: false }
  )
])
export type ShareLinkCreate = Static<typeof ShareLinkCreateSchema>

export const ShareLinkSchema = Type.Object(
  {
    id: UuidSchema,
    kind: Type.Union([Type.Literal('file'), Type.Literal('conversation')]),
    fileId: Type.Union([UuidSchema, Type.Null()]),
    conversationId: Type.Union([UuidSchema, Type.Null()]),
    creatorId: UuidSchema,
    createdAt: IsoDateSchema,
    expiresAt: IsoDateSchema,
    maxUses: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    uses: Type.Integer({ minimum: 0 }),
    revokedAt: Type.Union([IsoDateSchema, Type.Null()])
  },
  { additionalProperties: false }
)
export type ShareLink = Static<typeof ShareLinkSchema>

/** The answer to a create: the only time the token is ever shown. */
export const ShareLinkCreatedSchema = Type.Object(
  { link: ShareLinkSchema, token: ShareTokenSchema, path: Type.String({ maxLength: 128 }) },
  { additionalProperties: false }
)
export type ShareLinkCreated = Static<typeof ShareLinkCreatedSchema>

export const ShareLinkListQuerySchema = Type.Object(
  {
    /** admins: every user's links, not only their own */
    all: Type.Optional(Type.Boolean()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 }))
  },
  { additionalProperties: false }
)
export const ShareLinkListSchema = Type.Object({ links: Type.Array(ShareLinkSchema, { maxItems: 100 }) }, { additionalProperties: false })

/**
 * What a conversation snapshot keeps: the messages as they were when the link was made, with their
 * authors' display names then. Never a member list, an email address or another conversation.
 */
export const ConversationSnapshotSchema = Type.Object(
  {
    messages: Type.Array(
      Type.Object(
        {
          author: Type.String({ maxLength: 80 }),
          agent: Type.Boolean(),
          text: Type.String({ maxLength: 64 * 1024 }),
          at: IsoDateSchema
        },
        { additionalProperties: false }
      ),
      { maxItems: SNAPSHOT_MAX_MESSAGES }
    )
  },
  { additionalProperties: false }
)
export type ConversationSnapshot = Static<typeof ConversationSnapshotSchema>

export const SharesErrorCode = {
  /** 403: SHARE_LINKS=off */
  disabled: 'SHARE_LINKS_DISABLED'
} as const

// Mentions (issue 26 item 2): who a message mentions is stored as user ids, never as names (names
// change); `@here`/`@all` only where the conversation's owner allows mass mentions.
import { Type, type Static } from 'typebox'
import { IsoDateSchema, UuidSchema } from './common.js'

export const MENTION_LIMITS = {
  /** distinct users one message may mention by name */
  perMessageMax: 20,
  /** unread mention counts stop here, like unread counts (clients show "99+") */
  countMax: 999
} as const

export const MentionErrorCode = {
  /** a mentioned id is not a current member of the conversation */
  notMember: 'MENTION_NOT_MEMBER',
  /** `@here`/`@all` in a conversation whose owner has not allowed mass mentions */
  massMentionsDisabled: 'MASS_MENTIONS_DISABLED'
} as const

export const MentionIdsSchema = Type.Array(UuidSchema, { maxItems: MENTION_LIMITS.perMessageMax, uniqueItems: true })
/** `here` and `all` both reach every member for now (presence, item 6, may narrow `here` later). */
export const MassMentionSchema = Type.Union([Type.Literal('here'), Type.Literal('all')])
export type MassMention = Static<typeof MassMentionSchema>

/** `GET|PUT /conversations/:id/mention-policy` (PUT: owner only). */
export const MentionPolicySchema = Type.Object({ allowMassMentions: Type.Boolean() }, { additionalProperties: false })
export type MentionPolicy = Static<typeof MentionPolicySchema>

/** Unread mentions of the caller (after their read marker) per conversation; only non-zero ones. */
export const MentionCountSchema = Type.Object(
  { conversationId: UuidSchema, count: Type.Integer({ minimum: 1, maximum: MENTION_LIMITS.countMax }) },
  { additionalProperties: false }
)
export type MentionCount = Static<typeof MentionCountSchema>
/** `GET /api/chat/mentions`: at most one entry per conversation of the caller. */
export const MentionCountsSchema = Type.Object({ items: Type.Array(MentionCountSchema, { maxItems: 5000 }) }, { additionalProperties: false })
export type MentionCounts = Static<typeof MentionCountsSchema>

/**
 * To `events.user.<id>` of each user a new message mentions (by id or by `@here`/`@all`), so every
 * session of theirs can notify and bump the conversation's mention badge. The message itself comes
 * with `message.created`, which every member receives.
 */
export const MentionCreatedEventSchema = Type.Object(
  {
    type: Type.Literal('mention.created'),
    at: IsoDateSchema,
    conversationId: UuidSchema,
    messageId: UuidSchema,
    senderId: UuidSchema,
    mass: Type.Boolean()
  },
  { additionalProperties: false }
)
export type MentionCreatedEvent = Static<typeof MentionCreatedEventSchema>

// Reactions (issue 26 item 4): Unicode emoji only, one per (message, user, emoji), at most
// REACTION_LIMITS.distinctMax different ones per message.
import { Type, type Static } from 'typebox'
import { UuidSchema } from './common.js'

export const REACTION_LIMITS = {
  distinctMax: 20,
  /** bytes of UTF-16 an emoji may take: the longest RGI sequences (families, flags of subdivisions) fit */
  emojiMaxLength: 32,
  /** reacting user ids listed per emoji on a message (the count goes on beyond it) */
  usersListed: 50
} as const

export const ReactionErrorCode = {
  /** not exactly one Unicode (RGI) emoji */
  invalidEmoji: 'INVALID_EMOJI',
  /** the message already has REACTION_LIMITS.distinctMax different emoji */
  tooManyReactions: 'TOO_MANY_REACTIONS'
} as const

/**
 * One emoji. The schema only bounds the length: whether it is exactly one RGI emoji is checked with
 * `/^\p{RGI_Emoji}$/v` by the chat service (JSON Schema patterns have no `v` flag).
 */
export const EmojiSchema = Type.String({ minLength: 1, maxLength: REACTION_LIMITS.emojiMaxLength })

/** One emoji on a message: how many reacted and (the first `usersListed` of) who. */
export const ReactionSummarySchema = Type.Object(
  {
    emoji: EmojiSchema,
    count: Type.Integer({ minimum: 1 }),
    userIds: Type.Array(UuidSchema, { maxItems: REACTION_LIMITS.usersListed })
  },
  { additionalProperties: false }
)
export type ReactionSummary = Static<typeof ReactionSummarySchema>
export const ReactionsSchema = Type.Array(ReactionSummarySchema, { maxItems: REACTION_LIMITS.distinctMax })

/**
 * `PUT /conversations/:id/messages/:messageId/reactions`: sets the caller's reaction with this emoji
 * on or off. Idempotent (a repeated click or a retry changes nothing); clients toggle by sending the
 * opposite of what they show. Answers the message; members hear `message.updated`.
 */
export const SetReactionBodySchema = Type.Object({ emoji: EmojiSchema, reacted: Type.Boolean() }, { additionalProperties: false })
export type SetReactionBody = Static<typeof SetReactionBodySchema>

// Replies and threads (issue 26 item 3): one level, as in Slack — a reply's parent is a message of
// the same conversation that is not itself a reply.
import { Type, type Static } from 'typebox'
import { IsoDateSchema, UuidSchema } from './common.js'

export const THREAD_LIMITS = {
  /** latest distinct repliers a parent shows */
  repliersShown: 3,
  pageMax: 100
} as const

export const ThreadErrorCode = {
  /** the parent is not a message of this conversation (or not one the caller can see) */
  parentNotFound: 'REPLY_PARENT_NOT_FOUND',
  /** the parent is itself a reply: threads are one level deep */
  nestedReply: 'REPLY_NESTED'
} as const

/** On a parent message: how many replies, and who replied last (newest first, distinct). */
export const ThreadSummarySchema = Type.Object(
  {
    replyCount: Type.Integer({ minimum: 1 }),
    repliers: Type.Array(UuidSchema, { maxItems: THREAD_LIMITS.repliersShown }),
    lastReplyAt: IsoDateSchema
  },
  { additionalProperties: false }
)
export type ThreadSummary = Static<typeof ThreadSummarySchema>

/**
 * To the parent's author and everyone who replied before (not to the one replying), when a reply is
 * posted: "someone answered in a thread you are in". The reply itself arrives as `message.created`.
 */
export const ThreadRepliedEventSchema = Type.Object(
  { type: Type.Literal('thread.replied'), at: IsoDateSchema, conversationId: UuidSchema, parentId: UuidSchema, messageId: UuidSchema, senderId: UuidSchema },
  { additionalProperties: false }
)
export type ThreadRepliedEvent = Static<typeof ThreadRepliedEventSchema>

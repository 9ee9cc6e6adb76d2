// HTTP pages and NATS endpoints of threads, reactions and mentions (issue 26 items 2–4), kept out of
// chat.ts: they build on MessageSchema, while the parts a message embeds live in threads.ts,
// reactions.ts and mentions.ts (which chat.ts imports).
import { Type, type Static } from 'typebox'
import { CursorSchema, UuidSchema } from './common.js'
import type { NatsEndpoint } from './nats.js'
import { MessageSchema, NextCursorSchema } from './chat.js'
import { MentionCountsSchema } from './mentions.js'
import { SetReactionBodySchema } from './reactions.js'
import { THREAD_LIMITS } from './threads.js'

/** `GET /conversations/:id/messages/:messageId/replies`: oldest first; `after` is the previous page's `nextCursor`. */
export const ThreadPageQuerySchema = Type.Object(
  {
    after: Type.Optional(CursorSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: THREAD_LIMITS.pageMax, default: 50 }))
  },
  { additionalProperties: false }
)
/** `parent: null`: the parent was deleted; its replies stay (shown under a "message deleted" stub). */
export const ThreadPageSchema = Type.Object(
  { parent: Type.Union([MessageSchema, Type.Null()]), items: Type.Array(MessageSchema, { maxItems: THREAD_LIMITS.pageMax }), nextCursor: NextCursorSchema },
  { additionalProperties: false }
)
export type ThreadPage = Static<typeof ThreadPageSchema>

export const ChatThreadGetRequestSchema = Type.Object(
  {
    conversationId: UuidSchema,
    messageId: UuidSchema,
    after: Type.Optional(CursorSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 25 }))
  },
  { additionalProperties: false }
)
/** A thread (parent and replies) of a conversation the acting user belongs to; 404 otherwise. */
export const ChatThreadGet: NatsEndpoint<typeof ChatThreadGetRequestSchema, typeof ThreadPageSchema> = {
  subject: 'chat.thread.get',
  request: ChatThreadGetRequestSchema,
  response: ThreadPageSchema,
  owner: 'chat',
  callers: ['agents']
}

export const ChatReactionSetRequestSchema = Type.Object(
  { conversationId: UuidSchema, messageId: UuidSchema, ...SetReactionBodySchema.properties },
  { additionalProperties: false }
)
/** The acting user's reaction on or off, with the same checks as the HTTP route. */
export const ChatReactionSet: NatsEndpoint<typeof ChatReactionSetRequestSchema, typeof MessageSchema> = {
  subject: 'chat.reaction.set',
  request: ChatReactionSetRequestSchema,
  response: MessageSchema,
  owner: 'chat',
  callers: ['agents']
}

export const ChatMentionCountsRequestSchema = Type.Object({}, { additionalProperties: false })
/** The acting user's unread mention counts, as `GET /api/chat/mentions`. */
export const ChatMentionCounts: NatsEndpoint<typeof ChatMentionCountsRequestSchema, typeof MentionCountsSchema> = {
  subject: 'chat.mentions.counts',
  request: ChatMentionCountsRequestSchema,
  response: MentionCountsSchema,
  owner: 'chat',
  callers: ['agents']
}

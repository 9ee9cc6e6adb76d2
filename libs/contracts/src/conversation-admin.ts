// Managing a conversation beyond its messages: archive and restore, transfer ownership, leave, and
// each member's notification level. HTTP under /api/chat/conversations/:id, NATS as the acting user.
// Rename and topic are `PATCH /conversations/:id` (UpdateConversationBodySchema, chat.ts).
import { Type, type Static } from 'typebox'
import { EmptyObjectSchema, UuidSchema } from './common.js'
import { ConversationSchema, ConversationTitleSchema, ConversationTopicSchema, NotifyLevelSchema } from './chat.js'
import type { NatsEndpoint } from './nats.js'

// `PUT /conversations/:id/archive` archives, `DELETE` restores (owner only); both answer the conversation.

/** `POST /conversations/:id/transfer`: the owner hands the conversation to a current member (owner only). */
export const TransferOwnershipBodySchema = Type.Object({ userId: UuidSchema }, { additionalProperties: false })
export type TransferOwnershipBody = Static<typeof TransferOwnershipBodySchema>

/** `PUT /conversations/:id/notifications`: the caller's own level for this conversation. */
export const NotifySettingsSchema = Type.Object({ notifyLevel: NotifyLevelSchema }, { additionalProperties: false })
export type NotifySettings = Static<typeof NotifySettingsSchema>

/**
 * `POST /conversations/:id/leave`: `deleted` is true when the caller was the last member (the
 * conversation is then deleted). An owner with other members left gets 409 OWNER_MUST_TRANSFER.
 */
export const LeaveResultSchema = Type.Object({ deleted: Type.Boolean() }, { additionalProperties: false })
export type LeaveResult = Static<typeof LeaveResultSchema>

// ---------------------------------------------------------------------------------------------
// NATS (owner: chat): the same operations and rules as HTTP, for the acting user.
// ---------------------------------------------------------------------------------------------

export const ChatConversationUpdateRequestSchema = Type.Object(
  {
    conversationId: UuidSchema,
    title: Type.Optional(ConversationTitleSchema),
    topic: Type.Optional(ConversationTopicSchema),
    archived: Type.Optional(Type.Boolean())
  },
  { additionalProperties: false, minProperties: 2 }
)
/** Rename, set the topic, archive or restore (owner only). */
export const ChatConversationUpdate: NatsEndpoint<typeof ChatConversationUpdateRequestSchema, typeof ConversationSchema> = {
  subject: 'chat.conversation.update',
  request: ChatConversationUpdateRequestSchema,
  response: ConversationSchema,
  owner: 'chat',
  callers: ['agents']
}

export const ChatConversationTransferRequestSchema = Type.Object({ conversationId: UuidSchema, userId: UuidSchema }, { additionalProperties: false })
export const ChatConversationTransfer: NatsEndpoint<typeof ChatConversationTransferRequestSchema, typeof ConversationSchema> = {
  subject: 'chat.conversation.transfer',
  request: ChatConversationTransferRequestSchema,
  response: ConversationSchema,
  owner: 'chat',
  callers: ['agents']
}

export const ChatConversationLeaveRequestSchema = Type.Object({ conversationId: UuidSchema }, { additionalProperties: false })
export const ChatConversationLeave: NatsEndpoint<typeof ChatConversationLeaveRequestSchema, typeof LeaveResultSchema> = {
  subject: 'chat.conversation.leave',
  request: ChatConversationLeaveRequestSchema,
  response: LeaveResultSchema,
  owner: 'chat',
  callers: ['agents']
}

export const ChatNotifySetRequestSchema = Type.Object({ conversationId: UuidSchema, notifyLevel: NotifyLevelSchema }, { additionalProperties: false })
export const ChatNotifySet: NatsEndpoint<typeof ChatNotifySetRequestSchema, typeof EmptyObjectSchema> = {
  subject: 'chat.notify.set',
  request: ChatNotifySetRequestSchema,
  response: EmptyObjectSchema,
  owner: 'chat',
  callers: ['agents']
}

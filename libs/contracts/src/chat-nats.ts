// NATS request/reply endpoints owned by chat, with their payloads.
import { Type, type Static } from 'typebox'
import { CursorSchema, UuidSchema } from './common.js'
import type { NatsEndpoint } from './nats.js'
import {
  AttachmentIdsSchema,
  CHAT_LIMITS,
  ClientMessageIdSchema,
  NewMessageProperties,
  MemberRoleSchema,
  MessageSchema,
  MessageTextSchema,
  NextCursorSchema,
  SearchQuerySchema
} from './chat.js'

// ---------------------------------------------------------------------------------------------
// NATS request/reply (owner: chat). The acting user travels in the `Palisade-Acting-User` header
// set by the calling service — never in a payload.
// ---------------------------------------------------------------------------------------------

export const ChatAccessCheckRequestSchema = Type.Object({ userId: UuidSchema, conversationId: UuidSchema }, { additionalProperties: false })
export const ChatAccessCheckResponseSchema = Type.Object(
  { member: Type.Boolean(), role: Type.Union([MemberRoleSchema, Type.Null()]) },
  { additionalProperties: false }
)
export type ChatAccessCheckResponse = Static<typeof ChatAccessCheckResponseSchema>
/** Is `userId` a member of `conversationId` (and with which role)? Unknown conversations: not a member. */
export const ChatAccessCheck: NatsEndpoint<typeof ChatAccessCheckRequestSchema, typeof ChatAccessCheckResponseSchema> = {
  subject: 'chat.access.check',
  request: ChatAccessCheckRequestSchema,
  response: ChatAccessCheckResponseSchema,
  owner: 'chat',
  callers: ['gateway', 'files']
}

export const ChatMembersGetRequestSchema = Type.Object({ conversationId: UuidSchema }, { additionalProperties: false })
export const ChatMembersGetResponseSchema = Type.Object(
  { memberIds: Type.Array(UuidSchema, { maxItems: CHAT_LIMITS.membersMax }) },
  { additionalProperties: false }
)
/**
 * Member ids of a conversation the acting user belongs to (404 otherwise); the gateway fans typing
 * out with it, files the end of a scan.
 */
export const ChatMembersGet: NatsEndpoint<typeof ChatMembersGetRequestSchema, typeof ChatMembersGetResponseSchema> = {
  subject: 'chat.members.get',
  request: ChatMembersGetRequestSchema,
  response: ChatMembersGetResponseSchema,
  owner: 'chat',
  callers: ['gateway', 'agents', 'files']
}

export const ChatMessageCreateRequestSchema = Type.Object(
  {
    conversationId: UuidSchema,
    ...NewMessageProperties
  },
  { additionalProperties: false }
)
export type ChatMessageCreateRequest = Static<typeof ChatMessageCreateRequestSchema>
/** `created: false` when the (conversation, sender, clientMessageId) triple already existed. */
export const ChatMessageCreateResponseSchema = Type.Object({ message: MessageSchema, created: Type.Boolean() }, { additionalProperties: false })
export type ChatMessageCreateResponse = Static<typeof ChatMessageCreateResponseSchema>
/** A user's message, written as the acting user (gateway for WebSocket sends). */
export const ChatMessageCreate: NatsEndpoint<typeof ChatMessageCreateRequestSchema, typeof ChatMessageCreateResponseSchema> = {
  subject: 'chat.message.create',
  request: ChatMessageCreateRequestSchema,
  response: ChatMessageCreateResponseSchema,
  owner: 'chat',
  callers: ['gateway']
}

export const ChatAgentMessageCreateRequestSchema = Type.Object(
  {
    conversationId: UuidSchema,
    text: MessageTextSchema,
    clientMessageId: ClientMessageIdSchema,
    attachments: Type.Optional(AttachmentIdsSchema),
    agentRunId: UuidSchema,
    /**
     * The members the run checked what it read against: when given, the message is posted only if
     * every current member is one of them (else 409 AUDIENCE_CHANGED, nothing posted).
     */
    audience: Type.Optional(Type.Array(UuidSchema, { maxItems: CHAT_LIMITS.membersMax }))
  },
  { additionalProperties: false }
)
/** 409 of chat.agent.message.create: someone joined who is not in the run's checked audience. */
export const AUDIENCE_CHANGED = 'AUDIENCE_CHANGED'
export type ChatAgentMessageCreateRequest = Static<typeof ChatAgentMessageCreateRequestSchema>
/**
 * The message, and the members it was posted to: read under the conversation's lock, so nobody
 * removed before the insert is in it, and nobody in it was removed before the insert.
 */
export const ChatAgentMessageCreateResponseSchema = Type.Object(
  { message: MessageSchema, created: Type.Boolean(), memberIds: Type.Array(UuidSchema, { maxItems: CHAT_LIMITS.membersMax }) },
  { additionalProperties: false }
)
/**
 * An agent run's message: posted as the acting user (who ran the agent, and must still be a member)
 * and marked `author: { kind: 'agent', agentRunId }`. A subject of its own so that NATS permissions,
 * not trust, keep any service but agents from marking messages as agent-written. The answer's
 * `memberIds` is the run's audience from then on (its last events go to them only).
 */
export const ChatAgentMessageCreate: NatsEndpoint<typeof ChatAgentMessageCreateRequestSchema, typeof ChatAgentMessageCreateResponseSchema> = {
  subject: 'chat.agent.message.create',
  request: ChatAgentMessageCreateRequestSchema,
  response: ChatAgentMessageCreateResponseSchema,
  owner: 'chat',
  callers: ['agents']
}

export const ChatHistoryGetRequestSchema = Type.Object(
  {
    conversationId: UuidSchema,
    before: Type.Optional(CursorSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CHAT_LIMITS.natsPageMax }))
  },
  { additionalProperties: false }
)
export const ChatHistoryGetResponseSchema = Type.Object(
  { items: Type.Array(MessageSchema, { maxItems: CHAT_LIMITS.natsPageMax }), nextCursor: NextCursorSchema },
  { additionalProperties: false }
)
/**
 * Recent messages (newest first) of a conversation the acting user belongs to; 404 otherwise.
 * Agents read context with it; files takes conversation snapshots for share links.
 */
export const ChatHistoryGet: NatsEndpoint<typeof ChatHistoryGetRequestSchema, typeof ChatHistoryGetResponseSchema> = {
  subject: 'chat.history.get',
  request: ChatHistoryGetRequestSchema,
  response: ChatHistoryGetResponseSchema,
  owner: 'chat',
  callers: ['agents', 'files']
}

export const ChatSearchRequestSchema = Type.Object(
  {
    q: SearchQuerySchema.properties.q,
    conversationId: Type.Optional(UuidSchema),
    cursor: Type.Optional(CursorSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CHAT_LIMITS.natsPageMax }))
  },
  { additionalProperties: false }
)
/** Full-text search in the acting user's conversations. */
export const ChatSearch: NatsEndpoint<typeof ChatSearchRequestSchema, typeof ChatHistoryGetResponseSchema> = {
  subject: 'chat.search',
  request: ChatSearchRequestSchema,
  response: ChatHistoryGetResponseSchema,
  owner: 'chat',
  callers: ['agents']
}

export const CHAT_NATS_ENDPOINTS = [ChatAccessCheck, ChatMembersGet, ChatMessageCreate, ChatAgentMessageCreate, ChatHistoryGet, ChatSearch] as const

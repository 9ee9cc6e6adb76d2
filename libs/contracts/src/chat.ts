// Contracts of the chat service: limits, resources, HTTP bodies under /api/chat, NATS subjects and
// user events. Kept as one file (like every service's contract) although over 400 lines: its
// sections share the resource schemas, and a reader looks up one service's wire format in one place.
import { Type, type Static } from 'typebox'
import { CursorSchema, IsoDateSchema, UuidSchema } from './common.js'
import type { NatsEndpoint, NatsEvent } from './nats.js'
import { AgentRunCancelledEventSchema, AgentRunCompletedEventSchema, AgentRunDeltaEventSchema, AgentRunFailedEventSchema } from './agents.js'
import { FileScannedEventSchema } from './files.js'
import { MassMentionSchema, MentionCreatedEventSchema, MentionIdsSchema } from './mentions.js'
import { ReactionsSchema } from './reactions.js'
import { ThreadRepliedEventSchema, ThreadSummarySchema } from './threads.js'
import { PresenceChangedEventSchema } from './presence.js'

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

export const CHAT_LIMITS = {
  titleMaxLength: 200,
  topicMaxLength: 500,
  textMaxLength: 8000,
  clientMessageIdMaxLength: 64,
  attachmentsMax: 10,
  /** members given when a conversation is created (auth's user lookup answers at most 100) */
  initialMembersMax: 100,
  /** hard ceiling of members per conversation (services may configure a lower one) */
  membersMax: 5000,
  pageMax: 100,
  /** NATS replies stay far below the 1 MiB payload limit: 25 × 8000 chars worst case ≈ 800 KB */
  natsPageMax: 25,
  searchQueryMaxLength: 200,
  /**
   * Unread counts stop at this value (clients show "999+"): counting stops there, so a member who
   * has not looked at a busy conversation for months costs at most this many index entries.
   */
  unreadCountMax: 999
} as const

/** Printable text: no NUL or other C0 controls except tab, line feed and carriage return. */
const TEXT_PATTERN = '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*$'
/** One line of printable text. */
const LINE_PATTERN = '^[^\\u0000-\\u001f\\u007f]+$'

export const ConversationTitleSchema = Type.String({ minLength: 1, maxLength: CHAT_LIMITS.titleMaxLength, pattern: LINE_PATTERN })
/** One line saying what the conversation is for; '' = none. */
export const ConversationTopicSchema = Type.String({ maxLength: CHAT_LIMITS.topicMaxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$' })
/**
 * What a member hears of a conversation (stored per member, conversation-admin.ts has the route):
 * `all` — notifications for direct conversations, replies to them and mentions, and an emphasised
 * unread badge; `mentions` — only mentions and replies notify, the badge is plain; `none` — nothing
 * notifies and the badge is muted.
 */
export const NotifyLevelSchema = Type.Union([Type.Literal('all'), Type.Literal('mentions'), Type.Literal('none')])
export type NotifyLevel = Static<typeof NotifyLevelSchema>
export const MessageTextSchema = Type.String({ minLength: 1, maxLength: CHAT_LIMITS.textMaxLength, pattern: TEXT_PATTERN })
/** Chosen by the client per message; a retry with the same value returns the same message. */
export const ClientMessageIdSchema = Type.String({ minLength: 1, maxLength: CHAT_LIMITS.clientMessageIdMaxLength, pattern: '^[A-Za-z0-9_.:-]+$' })
/** File ids (files service) attached to a message. */
export const AttachmentIdsSchema = Type.Array(UuidSchema, { maxItems: CHAT_LIMITS.attachmentsMax, uniqueItems: true })
export const MemberRoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('member')])
export type MemberRole = Static<typeof MemberRoleSchema>
export const NextCursorSchema = Type.Union([CursorSchema, Type.Null()])

// ---------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------

export const ConversationSchema = Type.Object(
  {
    id: UuidSchema,
    title: Type.String({ maxLength: CHAT_LIMITS.titleMaxLength }),
    topic: Type.String({ maxLength: CHAT_LIMITS.topicMaxLength }),
    ownerId: UuidSchema,
    memberCount: Type.Integer({ minimum: 0 }),
    createdAt: IsoDateSchema,
    updatedAt: IsoDateSchema,
    lastActivityAt: IsoDateSchema,
    /** archived conversations are read-only for everyone until the owner restores them */
    archivedAt: Type.Union([IsoDateSchema, Type.Null()])
  },
  { additionalProperties: false }
)
export type Conversation = Static<typeof ConversationSchema>

/**
 * Messages after the caller's read marker that the caller did not write themselves (agent messages
 * of runs they started do count), at most CHAT_LIMITS.unreadCountMax.
 */
export const UnreadCountSchema = Type.Integer({ minimum: 0, maximum: CHAT_LIMITS.unreadCountMax })

/**
 * A conversation as one member sees it (`GET /conversations`, `GET /conversations/:id`): the
 * conversation plus that member's unread count. Events carry plain ConversationSchema objects
 * (they go to every member, and the count is per member).
 */
export const ConversationWithUnreadSchema = Type.Object(
  { ...ConversationSchema.properties, unreadCount: UnreadCountSchema, notifyLevel: NotifyLevelSchema },
  { additionalProperties: false }
)
export type ConversationWithUnread = Static<typeof ConversationWithUnreadSchema>

export const MemberSchema = Type.Object({ userId: UuidSchema, role: MemberRoleSchema, joinedAt: IsoDateSchema }, { additionalProperties: false })
export type Member = Static<typeof MemberSchema>

/**
 * Who wrote a message. Agent messages are posted as the user who ran the agent (`senderId`), but
 * marked as coming from the agent run so clients can tell them apart and nobody can pass an
 * agent's words off as their own (or the other way round).
 */
export const MessageAuthorSchema = Type.Union([
  Type.Object({ kind: Type.Literal('user') }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('agent'), agentRunId: UuidSchema }, { additionalProperties: false })
])
export type MessageAuthor = Static<typeof MessageAuthorSchema>

export const MessageSchema = Type.Object(
  {
    id: UuidSchema,
    conversationId: UuidSchema,
    senderId: UuidSchema,
    author: MessageAuthorSchema,
    text: Type.String({ maxLength: CHAT_LIMITS.textMaxLength }),
    clientMessageId: Type.String({ maxLength: CHAT_LIMITS.clientMessageIdMaxLength }),
    attachments: Type.Array(UuidSchema, { maxItems: CHAT_LIMITS.attachmentsMax }),
    createdAt: IsoDateSchema,
    editedAt: Type.Union([IsoDateSchema, Type.Null()]),
    /** the thread this message replies in (threads.ts); the parent may since have been deleted */
    parentId: Type.Union([UuidSchema, Type.Null()]),
    /** users mentioned by id, and `@here`/`@all` (mentions.ts) */
    mentions: MentionIdsSchema,
    massMention: Type.Union([MassMentionSchema, Type.Null()]),
    /** replies to this message, null when none */
    thread: Type.Union([ThreadSummarySchema, Type.Null()]),
    reactions: ReactionsSchema
  },
  { additionalProperties: false }
)
export type Message = Static<typeof MessageSchema>

/** What a new message may carry besides its text (validated against the conversation by chat). */
export const MessageRefsProperties = {
  parentId: Type.Optional(UuidSchema),
  mentions: Type.Optional(MentionIdsSchema),
  massMention: Type.Optional(MassMentionSchema)
}

// ---------------------------------------------------------------------------------------------
// HTTP (`/api/chat`)
// ---------------------------------------------------------------------------------------------

export const CreateConversationBodySchema = Type.Object(
  {
    title: ConversationTitleSchema,
    memberIds: Type.Optional(Type.Array(UuidSchema, { maxItems: CHAT_LIMITS.initialMembersMax, uniqueItems: true }))
  },
  { additionalProperties: false }
)
export type CreateConversationBody = Static<typeof CreateConversationBodySchema>

/** Owner only; either or both. */
export const UpdateConversationBodySchema = Type.Object(
  { title: Type.Optional(ConversationTitleSchema), topic: Type.Optional(ConversationTopicSchema) },
  { additionalProperties: false, minProperties: 1 }
)
export type UpdateConversationBody = Static<typeof UpdateConversationBodySchema>

/** `archived=true`: the archived conversations (hidden from the main list) instead of the others. */
export const ConversationPageQuerySchema = Type.Object(
  {
    cursor: Type.Optional(CursorSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CHAT_LIMITS.pageMax, default: 50 })),
    archived: Type.Optional(Type.Boolean({ default: false }))
  },
  { additionalProperties: false }
)
export const ConversationPageSchema = Type.Object(
  { items: Type.Array(ConversationWithUnreadSchema), nextCursor: NextCursorSchema },
  { additionalProperties: false }
)
export type ConversationPage = Static<typeof ConversationPageSchema>

export const ConversationParamsSchema = Type.Object({ id: UuidSchema }, { additionalProperties: false })
export const MemberParamsSchema = Type.Object({ id: UuidSchema, userId: UuidSchema }, { additionalProperties: false })
export const MessageParamsSchema = Type.Object({ id: UuidSchema, messageId: UuidSchema }, { additionalProperties: false })

export const AddMemberBodySchema = Type.Object({ userId: UuidSchema }, { additionalProperties: false })
export type AddMemberBody = Static<typeof AddMemberBodySchema>
export const MemberPageQuerySchema = Type.Object(
  {
    cursor: Type.Optional(CursorSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CHAT_LIMITS.pageMax, default: 50 }))
  },
  { additionalProperties: false }
)
export const MemberPageSchema = Type.Object({ items: Type.Array(MemberSchema), nextCursor: NextCursorSchema }, { additionalProperties: false })
export type MemberPage = Static<typeof MemberPageSchema>

export const SendMessageBodySchema = Type.Object(
  { text: MessageTextSchema, clientMessageId: ClientMessageIdSchema, attachments: Type.Optional(AttachmentIdsSchema), ...MessageRefsProperties },
  { additionalProperties: false }
)
export type SendMessageBody = Static<typeof SendMessageBodySchema>

export const EditMessageBodySchema = Type.Object({ text: MessageTextSchema }, { additionalProperties: false })
export type EditMessageBody = Static<typeof EditMessageBodySchema>

/**
 * `POST /conversations/:id/read`: the caller has read up to and including this message (one of the
 * conversation's). The marker only moves forward; marking an older message changes nothing. A
 * message id rather than its position: message positions are not part of the API (they are global
 * and would tell how much the whole platform writes), and a message of the conversation can never
 * lie past its latest one.
 */
export const MarkReadBodySchema = Type.Object({ messageId: UuidSchema }, { additionalProperties: false })
export type MarkReadBody = Static<typeof MarkReadBodySchema>

/** Newest first; `before` is the `nextCursor` of the previous page. */
export const MessagePageQuerySchema = Type.Object(
  {
    before: Type.Optional(CursorSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: CHAT_LIMITS.pageMax, default: 50 }))
  },
  { additionalProperties: false }
)
export type MessagePageQuery = Static<typeof MessagePageQuerySchema>
export const MessagePageSchema = Type.Object({ items: Type.Array(MessageSchema), nextCursor: NextCursorSchema }, { additionalProperties: false })
export type MessagePage = Static<typeof MessagePageSchema>

/**
 * Search filters inside `q`, parsed by chat (HTTP and NATS alike): `in:<conversation id>`,
 * `from:<user id>` or `from:me`, `has:file`, `before:YYYY-MM-DD` (messages before that UTC day)
 * and `after:YYYY-MM-DD` (from that UTC day on). Everything else is the text searched; a query may
 * be filters only. A malformed filter is a 400 with this code.
 */
export const SEARCH_FILTER_INVALID = 'SEARCH_FILTER_INVALID'

/** Full-text search over the conversations the caller is a member of; newest match first. */
export const SearchQuerySchema = Type.Object(
  {
    q: Type.String({ minLength: 1, maxLength: CHAT_LIMITS.searchQueryMaxLength, pattern: LINE_PATTERN }),
    conversationId: Type.Optional(UuidSchema),
    cursor: Type.Optional(CursorSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 20 }))
  },
  { additionalProperties: false }
)
export type SearchQuery = Static<typeof SearchQuerySchema>
export const SearchPageSchema = MessagePageSchema
export type SearchPage = MessagePage

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
    text: MessageTextSchema,
    clientMessageId: ClientMessageIdSchema,
    attachments: Type.Optional(AttachmentIdsSchema),
    ...MessageRefsProperties
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

// ---------------------------------------------------------------------------------------------
// Events to `events.user.<userId>`: every change is published to each member it concerns. The
// gateway relays them unchanged to that user's sockets, so each one is also a server→client frame;
// it relays only what validates against UserEventSchema.
// ---------------------------------------------------------------------------------------------

const ev = <T extends string>(type: T) => Type.Literal(type)

export const MessageCreatedEventSchema = Type.Object(
  { type: ev('message.created'), at: IsoDateSchema, conversationId: UuidSchema, message: MessageSchema },
  { additionalProperties: false }
)
export const MessageUpdatedEventSchema = Type.Object(
  { type: ev('message.updated'), at: IsoDateSchema, conversationId: UuidSchema, message: MessageSchema },
  { additionalProperties: false }
)
export const MessageDeletedEventSchema = Type.Object(
  { type: ev('message.deleted'), at: IsoDateSchema, conversationId: UuidSchema, messageId: UuidSchema },
  { additionalProperties: false }
)
/** Sent to every member, the new one included (it carries the conversation so their list can show it). */
export const MemberAddedEventSchema = Type.Object(
  { type: ev('member.added'), at: IsoDateSchema, conversationId: UuidSchema, userId: UuidSchema, role: MemberRoleSchema, conversation: ConversationSchema },
  { additionalProperties: false }
)
/** Sent to the remaining members and to the one removed (who then drops the conversation). */
export const MemberRemovedEventSchema = Type.Object(
  { type: ev('member.removed'), at: IsoDateSchema, conversationId: UuidSchema, userId: UuidSchema },
  { additionalProperties: false }
)
export const ConversationCreatedEventSchema = Type.Object(
  { type: ev('conversation.created'), at: IsoDateSchema, conversation: ConversationSchema },
  { additionalProperties: false }
)
export const ConversationUpdatedEventSchema = Type.Object(
  { type: ev('conversation.updated'), at: IsoDateSchema, conversation: ConversationSchema },
  { additionalProperties: false }
)
export const ConversationDeletedEventSchema = Type.Object(
  { type: ev('conversation.deleted'), at: IsoDateSchema, conversationId: UuidSchema },
  { additionalProperties: false }
)
/**
 * The user's read marker moved (`POST /conversations/:id/read` in any of their sessions): sent only to
 * that user, so their other sessions can update the badge. `messageId`: read up to and including it;
 * `unreadCount`: what is left unread after it, as in the conversation list.
 */
export const ConversationReadEventSchema = Type.Object(
  { type: ev('conversation.read'), at: IsoDateSchema, conversationId: UuidSchema, messageId: UuidSchema, unreadCount: UnreadCountSchema },
  { additionalProperties: false }
)
/** The member's notification level changed (in any of their sessions): sent only to that member. */
export const ConversationNotifyChangedEventSchema = Type.Object(
  { type: ev('conversation.notify'), at: IsoDateSchema, conversationId: UuidSchema, notifyLevel: NotifyLevelSchema },
  { additionalProperties: false }
)
/** Published by the gateway to the other members; never stored. */
export const TypingEventSchema = Type.Object(
  { type: ev('typing'), at: IsoDateSchema, conversationId: UuidSchema, userId: UuidSchema },
  { additionalProperties: false }
)

export const ChatEventSchema = Type.Union([
  MessageCreatedEventSchema,
  MessageUpdatedEventSchema,
  MessageDeletedEventSchema,
  MemberAddedEventSchema,
  MemberRemovedEventSchema,
  ConversationCreatedEventSchema,
  ConversationUpdatedEventSchema,
  ConversationDeletedEventSchema,
  ConversationReadEventSchema,
  ConversationNotifyChangedEventSchema,
  PresenceChangedEventSchema,
  MentionCreatedEventSchema,
  ThreadRepliedEventSchema
])
export type ChatEvent = Static<typeof ChatEventSchema>

export const UserEventSchema = Type.Union([
  MessageCreatedEventSchema,
  MessageUpdatedEventSchema,
  MessageDeletedEventSchema,
  MemberAddedEventSchema,
  MemberRemovedEventSchema,
  ConversationCreatedEventSchema,
  ConversationUpdatedEventSchema,
  ConversationDeletedEventSchema,
  ConversationReadEventSchema,
  ConversationNotifyChangedEventSchema,
  // presence.changed (presence.ts)
  PresenceChangedEventSchema,
  MentionCreatedEventSchema,
  ThreadRepliedEventSchema,
  TypingEventSchema,
  // agent.run.delta|completed|failed|cancelled, published by the agents service (shapes in agents.ts)
  AgentRunDeltaEventSchema,
  AgentRunCompletedEventSchema,
  AgentRunFailedEventSchema,
  AgentRunCancelledEventSchema,
  // file.scanned, published by the files service (files.ts)
  FileScannedEventSchema
])
export type UserEvent = Static<typeof UserEventSchema>
export type TypingEvent = Static<typeof TypingEventSchema>
export type ConversationReadEvent = Static<typeof ConversationReadEventSchema>

/** `events.user.<userId>`: what one user's sockets receive. */
export const UserEvents: NatsEvent<typeof UserEventSchema> = {
  subject: 'events.user.*',
  payload: UserEventSchema,
  publishers: ['chat', 'gateway', 'agents', 'files'],
  subscribers: ['gateway']
}
export const userEventsSubject = (userId: string): string => `events.user.${userId}`

/**
 * A conversation gained or lost a member or was deleted, for the services that act in front of its
 * members (agents: a run's stream goes only to current members, and a run stops when a newcomer may
 * not read what it has read; files: a deleted conversation's files are soft-deleted). Published by
 * chat after the commit, before the same change goes to the members themselves; every instance of a
 * subscriber hears it.
 */
export const MembershipChangedEventSchema = Type.Union([MemberAddedEventSchema, MemberRemovedEventSchema, ConversationDeletedEventSchema])
export type MembershipChangedEvent = Static<typeof MembershipChangedEventSchema>
export const ChatMembershipChanged: NatsEvent<typeof MembershipChangedEventSchema> = {
  subject: 'chat.membership.changed',
  payload: MembershipChangedEventSchema,
  publishers: ['chat'],
  subscribers: ['agents', 'files']
}

export const CHAT_NATS_ENDPOINTS = [ChatAccessCheck, ChatMembersGet, ChatMessageCreate, ChatAgentMessageCreate, ChatHistoryGet, ChatSearch] as const

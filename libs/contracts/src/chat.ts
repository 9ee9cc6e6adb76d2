// Contracts of the chat service: limits, resources and HTTP bodies under /api/chat. Its NATS
// endpoints are in chat-nats.ts, its events (and the union relayed to sockets) in chat-events.ts.
import { Type, type Static } from 'typebox'
import { CursorSchema, IsoDateSchema, UuidSchema } from './common.js'
import { MassMentionSchema, MentionIdsSchema } from './mentions.js'
import { ReactionsSchema } from './reactions.js'
import { ThreadSummarySchema } from './threads.js'

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

/** A new message as its sender writes it: the same over HTTP, the socket and NATS. */
export const NewMessageProperties = {
  text: MessageTextSchema,
  clientMessageId: ClientMessageIdSchema,
  attachments: Type.Optional(AttachmentIdsSchema),
  ...MessageRefsProperties
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

export const SendMessageBodySchema = Type.Object(NewMessageProperties, { additionalProperties: false })
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

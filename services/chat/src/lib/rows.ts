import {
  MessageSchema,
  type Conversation,
  type MassMention,
  type ReactionSummary,
  type ConversationWithUnread,
  type Member,
  type MemberRole,
  type Message,
  type NotifyLevel
} from '@palisade/contracts'

/**
 * The columns each field of a Message (MessageSchema, the one definition of its shape) is read
 * from. `satisfies` makes the compiler refuse a field the schema lacks and a field left out; the
 * order, toMessage() and the stored payload (migrations 0002/0004/0009) are checked against the schema
 * by test/message-shape.test.ts.
 */
export const MESSAGE_FIELD_COLUMNS = {
  id: ['id'],
  conversationId: ['conversation_id'],
  senderId: ['sender_id'],
  author: ['author_kind', 'agent_run_id'],
  text: ['text'],
  clientMessageId: ['client_message_id'],
  attachments: ['attachments'],
  createdAt: ['created_at'],
  editedAt: ['edited_at'],
  parentId: ['parent_id'],
  mentions: ['mentions'],
  massMention: ['mass_mention'],
  thread: ['reply_count', 'repliers', 'last_reply_at'],
  reactions: ['reactions']
} as const satisfies { readonly [K in keyof Message]: ReadonlyArray<keyof MessageDbRow> }

/**
 * Column lists of the queries: a message's paging key, then its fields' columns in MessageSchema's
 * order; `tsv` is never selected (it is an index, not data).
 */
export const MESSAGE_COLUMNS = ['seq', ...(Object.keys(MessageSchema.properties) as Array<keyof Message>).flatMap((k) => MESSAGE_FIELD_COLUMNS[k])].join(', ')
export const CONVERSATION_COLUMNS = 'id, title, topic, owner_id, member_count, created_at, updated_at, last_activity_at, activity_seq, archived_at'

export interface MessageDbRow {
  seq: string | number
  id: string
  conversation_id: string
  sender_id: string
  author_kind: 'user' | 'agent'
  agent_run_id: string | null
  text: string
  client_message_id: string
  attachments: string[]
  created_at: Date
  edited_at: Date | null
  parent_id: string | null
  mentions: string[]
  mass_mention: MassMention | null
  reply_count: number
  repliers: string[]
  last_reply_at: Date | null
  /** ReactionsSchema as compact JSON text */
  reactions: string
}

export interface ConversationDbRow {
  id: string
  title: string
  topic: string
  owner_id: string
  member_count: number
  created_at: Date
  updated_at: Date
  last_activity_at: Date
  activity_seq: string | number
  archived_at: Date | null
}

export interface ConversationWithUnreadDbRow extends ConversationDbRow {
  unread_count: number
  notify_level: NotifyLevel
}

export interface MemberDbRow {
  user_id: string
  role: MemberRole
  joined_at: Date
}

/** In MessageSchema's key order, so its JSON is byte for byte the stored payload. */
export function toMessage(r: MessageDbRow): Message {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    senderId: r.sender_id,
    author: r.author_kind === 'agent' && r.agent_run_id ? { kind: 'agent', agentRunId: r.agent_run_id } : { kind: 'user' },
    text: r.text,
    clientMessageId: r.client_message_id,
    attachments: r.attachments,
    createdAt: r.created_at.toISOString(),
    editedAt: r.edited_at ? r.edited_at.toISOString() : null,
    parentId: r.parent_id,
    mentions: r.mentions,
    massMention: r.mass_mention,
    thread: r.reply_count > 0 && r.last_reply_at ? { replyCount: r.reply_count, repliers: r.repliers, lastReplyAt: r.last_reply_at.toISOString() } : null,
    reactions: JSON.parse(r.reactions) as ReactionSummary[]
  }
}

export function toConversation(r: ConversationDbRow): Conversation {
  return {
    id: r.id,
    title: r.title,
    topic: r.topic,
    ownerId: r.owner_id,
    memberCount: r.member_count,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    lastActivityAt: r.last_activity_at.toISOString(),
    archivedAt: r.archived_at ? r.archived_at.toISOString() : null
  }
}

export function toConversationWithUnread(r: ConversationWithUnreadDbRow): ConversationWithUnread {
  return { ...toConversation(r), unreadCount: r.unread_count, notifyLevel: r.notify_level }
}

export function toMember(r: MemberDbRow): Member {
  return { userId: r.user_id, role: r.role, joinedAt: r.joined_at.toISOString() }
}

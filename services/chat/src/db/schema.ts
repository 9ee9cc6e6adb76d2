import { sql } from 'drizzle-orm'
import { bigint, boolean, check, customType, index, integer, pgSchema, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'
import { outboxTable } from '@palisade/platform'

/** Everything chat stores lives in its own schema; other services ask over NATS. */
export const chat = pgSchema('chat')

/** Orders conversations by latest activity: every new message takes the next value. */
export const activitySeq = chat.sequence('activity_seq')

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' })

/** Text search configuration of the message index; queries must use the same one. */
export const SEARCH_CONFIG = 'english'

export const conversations = chat.table(
  'conversations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    title: text('title').notNull(),
    topic: text('topic').notNull().default(''),
    ownerId: uuid('owner_id').notNull(),
    memberCount: integer('member_count').notNull().default(0),
    /**
     * Messages the conversation holds now (deletes count down). A member's unread count is this minus
     * their `read_count`: one subtraction per row of "my conversations", and one counter per message
     * written instead of one per member (docs/performance.md, "Unread counts").
     */
    messageCount: integer('message_count').notNull().default(0),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastActivityAt: timestamp('last_activity_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** unique and increasing: the paging key of "my conversations, newest activity first" */
    activitySeq: bigint('activity_seq', { mode: 'number' }).notNull().default(sql`nextval('chat.activity_seq')`),
    /** set while archived: read-only for everyone, listed apart; null = active */
    archivedAt: timestamp('archived_at', { withTimezone: true, mode: 'date' })
  },
  (t) => [uniqueIndex('conversations_activity_seq_key').on(t.activitySeq)]
)

export const members = chat.table(
  'members',
  {
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull(),
    role: text('role', { enum: ['owner', 'member'] }).notNull(),
    joinedAt: timestamp('joined_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /**
     * Read marker: the member has read every message with `seq` ≤ this. Only moves forward. A member
     * added later starts at the conversation's latest message (its history is there to read, not
     * unread); 0 = nothing read yet (conversations start empty).
     */
    lastReadSeq: bigint('last_read_seq', { mode: 'number' }).notNull().default(0),
    /**
     * How many of the conversation's messages have `seq` ≤ `last_read_seq`, set whenever the marker
     * moves and counted down when such a message is deleted; unread = message_count − read_count.
     */
    readCount: integer('read_count').notNull().default(0),
    /** what this member is notified of (NotifyLevelSchema) */
    notifyLevel: text('notify_level', { enum: ['all', 'mentions', 'none'] })
      .notNull()
      .default('all')
  },
  (t) => [
    primaryKey({ name: 'members_pkey', columns: [t.conversationId, t.userId] }),
    index('members_user_idx').on(t.userId, t.conversationId),
    check('members_role_check', sql`${t.role} in ('owner', 'member')`),
    check('members_notify_level_check', sql`${t.notifyLevel} in ('all', 'mentions', 'none')`)
  ]
)

export const messages = chat.table(
  'messages',
  {
    /** paging key within a conversation (newest first) */
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    id: uuid('id').notNull().defaultRandom(),
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    senderId: uuid('sender_id').notNull(),
    authorKind: text('author_kind', { enum: ['user', 'agent'] })
      .notNull()
      .default('user'),
    agentRunId: uuid('agent_run_id'),
    text: text('text').notNull(),
    clientMessageId: text('client_message_id').notNull(),
    attachments: uuid('attachments').array().notNull().default(sql`'{}'::uuid[]`),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    editedAt: timestamp('edited_at', { withTimezone: true, mode: 'date' }),
    /** no foreign key: replies outlive a deleted parent (threads.ts) */
    parentId: uuid('parent_id'),
    /** ids as sent (checked to be members then); chat.message_mentions is what counts read */
    mentions: uuid('mentions').array().notNull().default(sql`'{}'::uuid[]`),
    massMention: text('mass_mention', { enum: ['here', 'all'] }),
    /** thread summary of a parent, kept by the reply's insert and delete */
    replyCount: integer('reply_count').notNull().default(0),
    repliers: uuid('repliers').array().notNull().default(sql`'{}'::uuid[]`),
    lastReplyAt: timestamp('last_reply_at', { withTimezone: true, mode: 'date' }),
    /**
     * ReactionsSchema as compact JSON text, rebuilt from chat.message_reactions by every change (text,
     * not jsonb: the payload trigger embeds it byte for byte as JSON.stringify wrote it).
     */
    reactions: text('reactions').notNull().default('[]'),
    /**
     * The message as its API JSON (MessageSchema), kept by the `messages_payload` trigger on every
     * insert and update (migration 0002): a page of messages is then a string_agg of ready text,
     * not 50 json_build_object calls per request on the hottest read path.
     */
    payload: text('payload').notNull().default(''),
    tsv: tsvector('tsv')
      .notNull()
      .generatedAlwaysAs(sql.raw(`to_tsvector('${SEARCH_CONFIG}'::regconfig, "text")`))
  },
  (t) => [
    uniqueIndex('messages_id_key').on(t.id),
    /** idempotency: one message per (conversation, sender, clientMessageId), however many retries race */
    uniqueIndex('messages_client_id_key').on(t.conversationId, t.senderId, t.clientMessageId),
    /**
     * Pages of a conversation by seq, and unread counts: sender and author kind are in the index so
     * counting the messages after a read marker is an index-only scan (drizzle has no INCLUDE).
     */
    index('messages_conversation_seq_idx').on(t.conversationId, t.seq, t.senderId, t.authorKind),
    /**
     * Search: the conversation and the words in one GIN index (built-in array_ops and tsvector_ops,
     * no extension), so "these words in these conversations" is one intersection of posting lists
     * instead of reading every message of a large conversation (docs/performance.md, "Search").
     */
    index('messages_search_idx').using('gin', sql`(ARRAY[${t.conversationId}])`, t.tsv),
    /** search's `has:file`: a conversation's messages with attachments, newest first, without reading the others */
    index('messages_with_files_idx').on(t.conversationId, t.seq).where(sql`cardinality(${t.attachments}) > 0`),
    index('messages_parent_seq_idx').on(t.parentId, t.seq).where(sql`${t.parentId} is not null`),
    check('messages_author_check', sql`(${t.authorKind} = 'user' and ${t.agentRunId} is null) or (${t.authorKind} = 'agent' and ${t.agentRunId} is not null)`)
  ]
)

/**
 * Who each message mentions (by id or `@here`/`@all`), one row per mentioned member, with the
 * message's seq so "my mentions after my read marker" is an index range per conversation.
 */
export const messageMentions = chat.table(
  'message_mentions',
  {
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').notNull(),
    conversationId: uuid('conversation_id').notNull(),
    seq: bigint('seq', { mode: 'number' }).notNull()
  },
  (t) => [
    primaryKey({ name: 'message_mentions_pkey', columns: [t.messageId, t.userId] }),
    index('message_mentions_user_idx').on(t.userId, t.conversationId, t.seq)
  ]
)

export const messageReactions = chat.table(
  'message_reactions',
  {
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    emoji: text('emoji').notNull(),
    userId: uuid('user_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
  },
  (t) => [primaryKey({ name: 'message_reactions_pkey', columns: [t.messageId, t.emoji, t.userId] })]
)

/** Conversation settings about mentions, changed by the owner only; no row = defaults. */
export const mentionPolicies = chat.table('mention_policies', {
  conversationId: uuid('conversation_id')
    .primaryKey()
    .references(() => conversations.id, { onDelete: 'cascade' }),
  allowMassMentions: boolean('allow_mass_mentions').notNull().default(false)
})

/** One row per user who ever connected (or chose to hide): presence as others may see it. */
export const presenceUsers = chat.table('presence_users', {
  userId: uuid('user_id').primaryKey(),
  hidden: boolean('hidden').notNull().default(false),
  /** what others were last told (presence.changed), hidden aside; reports and the sweeper move it */
  status: text('status', { enum: ['online', 'away', 'offline'] })
    .notNull()
    .default('offline'),
  lastActiveAt: timestamp('last_active_at', { withTimezone: true, mode: 'date' }),
  /** when the user's last socket (on any gateway instance) closed */
  lastSeenAt: timestamp('last_seen_at', { withTimezone: true, mode: 'date' })
})

/** Live gateway instances; one that stops announcing itself expires with its sockets. */
export const presenceInstances = chat.table('presence_instances', {
  instanceId: uuid('instance_id').primaryKey(),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull()
})

/** How many sockets each gateway instance holds for a user (rows with 0 are deleted). */
export const presenceSockets = chat.table(
  'presence_sockets',
  {
    userId: uuid('user_id').notNull(),
    instanceId: uuid('instance_id')
      .notNull()
      .references(() => presenceInstances.instanceId, { onDelete: 'cascade' }),
    sockets: integer('sockets').notNull()
  },
  (t) => [primaryKey({ name: 'presence_sockets_pkey', columns: [t.userId, t.instanceId] }), index('presence_sockets_instance_idx').on(t.instanceId)]
)

export type ConversationRow = typeof conversations.$inferSelect
export type MemberRow = typeof members.$inferSelect
export type MessageRow = typeof messages.$inferSelect

/** Events written with the changes they announce; the platform's relay publishes them (OutboxRelay). */
export const outbox = outboxTable(chat)

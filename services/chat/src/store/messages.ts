import { AUDIENCE_CHANGED, FilesErrorCode, FilesMetaGet, THREAD_LIMITS, type Message, type MessageAuthor, type MessagePage } from '@palisade/contracts'
import type pg from 'pg'
import { natsRequest, problems, type CallContext, type Emit, type ProblemError } from '@palisade/platform'
import { messageCursor } from '../lib/cursor.js'
import { emitToMembers } from '../lib/events.js'
import { MESSAGE_COLUMNS, toMessage, type MessageDbRow } from '../lib/rows.js'
import { notMember, now, type ChatStore } from './context.js'
import { archivedProblem, requireNotArchived } from './conversation-admin.js'
import { requireMember } from './members.js'
import { checkMessageRefs, type MessageRefs } from './message-refs.js'
import { emitMentions } from './mentions.js'
import { announceReply, refreshThreadSummary } from './threads.js'
import { memberIdsSql, splitIds } from '../lib/member-ids.js'

export interface NewMessage extends MessageRefs {
  text: string
  clientMessageId: string
  attachments?: string[] | undefined
}

/**
 * Attachments must be files the sender can see (files answers 404 otherwise) that are shared with
 * this very conversation — the files service lets the members read exactly those, so attaching can
 * never hand a file to people it was not shared with. Infected files are refused.
 */
async function checkAttachments(store: ChatStore, conversationId: string, attachments: string[], ctx: CallContext): Promise<void> {
  await Promise.all(
    attachments.map(async (fileId) => {
      const meta = await natsRequest(store.nats, FilesMetaGet, { fileId }, ctx)
      if (meta.conversationId !== conversationId) throw problems.badRequest('Attachments must be files shared with this conversation')
      if (meta.status === 'infected') throw problems.conflict('An attachment failed the malware scan', FilesErrorCode.infected)
    })
  )
}

type Queryable = Pick<pg.Pool, 'query'>

interface Inserted {
  message: Message
  created: boolean
  memberIds: string[]
  /** members who got a mention row (none on a retry) */
  mentionedIds: string[]
}

/**
 * The conversation row is locked before the insert takes its seq, so a conversation's messages
 * commit in seq order and message_count always counts exactly the messages up to the newest seq:
 * the sender's read_count is then that count, and a read marker's recount cannot miss a message
 * that commits later below it. The counter goes up with the activity bump (one row), so unread
 * counts cost no write per member. Mention rows go to members only (joined here, in the insert's
 * snapshot) and never to the sender; a reply bumps its parent's summary in the same statement
 * (parent_id IS NULL: one level).
 */
const INSERT_MESSAGE = `WITH lock AS (
             SELECT 1 FROM chat.conversations
             WHERE id = $1 AND archived_at IS NULL AND EXISTS (SELECT 1 FROM chat.members WHERE conversation_id = $1 AND user_id = $2)
             FOR UPDATE
           ), ins AS (
             INSERT INTO chat.messages (conversation_id, sender_id, author_kind, agent_run_id, text, client_message_id, attachments, parent_id, mentions, mass_mention)
             SELECT $1, $2, $3, $4, $5, $6, $7::uuid[], $8, $9::uuid[], $10 FROM lock
             ON CONFLICT (conversation_id, sender_id, client_message_id) DO NOTHING
             RETURNING ${MESSAGE_COLUMNS}
           ), ment AS (
             INSERT INTO chat.message_mentions (message_id, user_id, conversation_id, seq)
             SELECT ins.id, mem.user_id, $1, ins.seq FROM ins JOIN chat.members mem ON mem.conversation_id = $1
             WHERE mem.user_id <> $2 AND ($10::text IS NOT NULL OR mem.user_id = ANY($9::uuid[]))
             RETURNING user_id
           ), thread AS (
             UPDATE chat.messages p SET reply_count = p.reply_count + 1, last_reply_at = ins.created_at,
               repliers = (ARRAY[$2::uuid] || array_remove(p.repliers, $2::uuid))[1:${THREAD_LIMITS.repliersShown}]
             FROM ins WHERE p.id = ins.parent_id AND p.conversation_id = $1 AND p.parent_id IS NULL
           ), bump AS (
             UPDATE chat.conversations SET activity_seq = nextval('chat.activity_seq'), last_activity_at = now(), message_count = message_count + 1
             WHERE id = $1 AND EXISTS (SELECT 1 FROM ins)
             RETURNING message_count
           ), mark AS (
             UPDATE chat.members SET last_read_seq = ins.seq, read_count = bump.message_count FROM ins, bump
             WHERE chat.members.conversation_id = $1 AND chat.members.user_id = $2 AND $3 = 'user' AND chat.members.last_read_seq < ins.seq
           )
           SELECT ins.*, ${memberIdsSql('$1')} AS member_ids,
             (SELECT array_agg(user_id) FROM ment) AS mentioned_ids
           FROM ins`

/**
 * Inserts unless this sender already sent one with this clientMessageId to this conversation, in
 * which case that one is returned (`created: false`). The membership check, the insert and the
 * conversation's activity bump are one statement; concurrent retries meet in the unique index, so
 * exactly one row exists whatever the interleaving. A user's own message also moves their read
 * marker up to it (whoever answers has read what came before); an agent's message does not,
 * although it is posted as the user who ran the agent.
 */
async function insertMessage(q: Queryable, userId: string, conversationId: string, input: NewMessage, author: MessageAuthor): Promise<Inserted> {
  const agentRunId = author.kind === 'agent' ? author.agentRunId : null
  const r = await q.query<MessageDbRow & { member_ids: string; mentioned_ids: string[] | null }>({
    name: 'chat_send_message',
    text: INSERT_MESSAGE,
    values: [
      conversationId,
      userId,
      author.kind,
      agentRunId,
      input.text,
      input.clientMessageId,
      input.attachments ?? [],
      input.parentId ?? null,
      input.mentions ?? [],
      input.massMention ?? null
    ]
  })
  const row = r.rows[0]
  if (row) return { message: toMessage(row), created: true, memberIds: splitIds(row.member_ids) ?? [], mentionedIds: row.mentioned_ids ?? [] }
  // Not inserted: not a member, a retry of a message that exists, or archived.
  const existing = await q.query<MessageDbRow & { member_ids: string }>({
    name: 'chat_message_by_client_id',
    text: `SELECT ${MESSAGE_COLUMNS}, ${memberIdsSql('$1')} AS member_ids FROM chat.messages
           WHERE conversation_id = $1 AND sender_id = $2 AND client_message_id = $3
             AND EXISTS (SELECT 1 FROM chat.members WHERE conversation_id = $1 AND user_id = $2)`,
    values: [conversationId, userId, input.clientMessageId]
  })
  if (!existing.rows[0]) {
    const member = await q.query('SELECT 1 FROM chat.members WHERE conversation_id = $1 AND user_id = $2', [conversationId, userId])
    if (member.rowCount === 0) throw notMember()
    const archived = await q.query('SELECT 1 FROM chat.conversations WHERE id = $1 AND archived_at IS NOT NULL', [conversationId])
    if (archived.rowCount) throw archivedProblem()
    // A member whose message vanished between the insert and this read (deleted at once).
    throw problems.conflict('The message was deleted; send it with a new clientMessageId')
  }
  return { message: toMessage(existing.rows[0]), created: false, memberIds: splitIds(existing.rows[0].member_ids) ?? [], mentionedIds: [] }
}

/**
 * Adds the events of a new message to the transaction's outbox: message.created, mention.created
 * to those mentioned and, for a reply, the parent's new summary and thread.replied.
 */
async function announce(c: Queryable, emit: Emit, conversationId: string, userId: string, sent: Inserted): Promise<void> {
  if (!sent.created) return
  const { message } = sent
  emitToMembers(emit, sent.memberIds, { type: 'message.created', at: now(), conversationId, message })
  emitMentions(emit, sent.mentionedIds, conversationId, message.id, userId, message.massMention !== null)
  if (message.parentId) await announceReply(c, emit, conversationId, message.parentId, message.id, userId, sent.memberIds)
}

/** Membership, attachments and references (parent, mentions) checked before the insert. */
async function checkNewMessage(store: ChatStore, userId: string, conversationId: string, input: NewMessage, ctx: CallContext): Promise<void> {
  const attachments = input.attachments ?? []
  const hasRefs = Boolean(input.parentId || input.mentions?.length || input.massMention)
  if (attachments.length === 0 && !hasRefs) return
  await requireMember(store, conversationId, userId)
  await requireNotArchived(store, conversationId)
  await Promise.all([checkAttachments(store, conversationId, attachments, ctx), checkMessageRefs(store, conversationId, input)])
}

/** A user's message (see insertMessage), announced to the members it was posted to. */
export async function sendMessage(
  store: ChatStore,
  userId: string,
  conversationId: string,
  input: NewMessage,
  ctx: CallContext
): Promise<{ message: Message; created: boolean }> {
  await checkNewMessage(store, userId, conversationId, input, ctx)
  const sent = await store.outbox.transaction(async (c, emit) => {
    const inserted = await insertMessage(c, userId, conversationId, input, { kind: 'user' })
    await announce(c, emit, conversationId, userId, inserted)
    return inserted
  })
  if (sent.created) {
    store.cache?.invalidate(conversationId)
    store.lists?.invalidateConversation(conversationId)
  }
  return { message: sent.message, created: sent.created }
}

/**
 * An agent run's message. Adding and removing a member update the conversation's row in their
 * transaction; taking that row's lock first orders this insert strictly before or after each of
 * them, and the insert (a new snapshot after the lock) sees the members as they are then. So the
 * `memberIds` answered — who the message went to, and the run's last audience — never includes
 * someone removed before the message existed, whoever the agents service still counted in; and
 * with `audience`, nobody outside it is a member when the message is posted.
 */
export async function sendAgentMessage(
  store: ChatStore,
  userId: string,
  conversationId: string,
  input: NewMessage,
  agentRunId: string,
  audience: readonly string[] | undefined,
  ctx: CallContext
): Promise<{ message: Message; created: boolean; memberIds: string[] }> {
  await checkNewMessage(store, userId, conversationId, input, ctx)
  const sent = await store.outbox.transaction(async (c, emit) => {
    const locked = await c.query('SELECT 1 FROM chat.conversations WHERE id = $1 FOR NO KEY UPDATE', [conversationId])
    if (locked.rowCount === 0) throw notMember()
    if (audience) {
      // Under the lock nobody joins before the insert: a member outside the checked audience now
      // would read what the run read without the check having covered them.
      const outside = await c.query('SELECT 1 FROM chat.members WHERE conversation_id = $1 AND NOT (user_id = ANY($2::uuid[])) LIMIT 1', [
        conversationId,
        audience
      ])
      if (outside.rowCount) throw problems.conflict('A member joined whom the run did not check', AUDIENCE_CHANGED)
    }
    const inserted = await insertMessage(c, userId, conversationId, input, { kind: 'agent', agentRunId })
    await announce(c, emit, conversationId, userId, inserted)
    return inserted
  })
  if (sent.created) {
    store.cache?.invalidate(conversationId)
    store.lists?.invalidateConversation(conversationId)
  }
  return { message: sent.message, created: sent.created, memberIds: sent.memberIds }
}

/** Newest first. One round trip: membership and page together. */
export async function listMessages(store: ChatStore, userId: string, conversationId: string, before: string | undefined, limit: number): Promise<MessagePage> {
  const beforeSeq = messageCursor.decodeOptional(before)
  const r = await store.pg.query<Partial<MessageDbRow> & { member: number }>({
    name: 'chat_list_messages',
    text: `SELECT 1 AS member, msg.* FROM chat.members mem
           LEFT JOIN LATERAL (
             SELECT ${MESSAGE_COLUMNS} FROM chat.messages
             WHERE conversation_id = $1 AND seq < COALESCE($3::bigint, 9223372036854775807)
             ORDER BY seq DESC LIMIT $4
           ) msg ON true
           WHERE mem.conversation_id = $1 AND mem.user_id = $2`,
    values: [conversationId, userId, beforeSeq ?? null, limit + 1]
  })
  if (r.rows.length === 0) throw notMember()
  const rows = (r.rows[0]!.id ? r.rows : []) as MessageDbRow[]
  const page = rows.slice(0, limit)
  const last = page[page.length - 1]
  return { items: page.map(toMessage), nextCursor: rows.length > limit && last ? messageCursor.encode(Number(last.seq)) : null }
}

/**
 * The same page as `listMessages`, as the JSON text of a MessagePage: bytes when the message cache
 * answers (see MessageCache), otherwise text PostgreSQL joins from each row's stored `payload` (its
 * API JSON, kept by a trigger), so the hottest read path neither parses rows nor serialises objects.
 * test/message-shape.test.ts checks it against MessagePageSchema and the object path.
 */
export async function listMessagesJson(
  store: ChatStore,
  userId: string,
  conversationId: string,
  before: string | undefined,
  limit: number
): Promise<string | Buffer> {
  const beforeSeq = messageCursor.decodeOptional(before)
  const cached = await store.cache?.page(userId, conversationId, beforeSeq, limit)
  if (cached !== undefined) return cached
  const r = await store.pg.query<{ member: number | null; items: string | null; last: string | null; more: boolean | null }>({
    name: 'chat_list_messages_json',
    // `payload` is each message's API JSON, kept by a trigger (migration 0002).
    text: `SELECT mem.member, page.items, page.last, page.more
           FROM (SELECT (SELECT 1 FROM chat.members WHERE conversation_id = $1 AND user_id = $2) AS member) mem
           LEFT JOIN LATERAL (
             SELECT '[' || coalesce(string_agg(x.payload, ',' ORDER BY x.seq DESC) FILTER (WHERE x.rn <= $4), '') || ']' AS items,
                    min(x.seq) FILTER (WHERE x.rn <= $4) AS last,
                    count(*) > $4 AS more
             FROM (
               SELECT seq, payload, row_number() OVER (ORDER BY seq DESC) AS rn
               FROM chat.messages
               WHERE conversation_id = $1 AND seq < COALESCE($3::bigint, 9223372036854775807)
               ORDER BY seq DESC LIMIT $4 + 1
             ) x
           ) page ON mem.member IS NOT NULL`,
    values: [conversationId, userId, beforeSeq ?? null, limit]
  })
  const row = r.rows[0]
  if (!row?.member) throw notMember()
  const next = row.more && row.last ? JSON.stringify(messageCursor.encode(Number(row.last))) : 'null'
  return `{"items":${row.items ?? '[]'},"nextCursor":${next}}`
}

/** Edits the caller's own message. Agent-written messages cannot be edited (they are the agent's words). */
export async function editMessage(store: ChatStore, userId: string, conversationId: string, messageId: string, text: string): Promise<Message> {
  const message = await store.outbox.transaction(async (c, emit) => {
    const r = await c.query<MessageDbRow & { member_ids: string }>(
      `UPDATE chat.messages SET text = $4, edited_at = now()
       WHERE id = $3 AND conversation_id = $1 AND sender_id = $2 AND author_kind = 'user'
         AND EXISTS (SELECT 1 FROM chat.members WHERE conversation_id = $1 AND user_id = $2)
         AND NOT EXISTS (SELECT 1 FROM chat.conversations WHERE id = $1 AND archived_at IS NOT NULL)
       RETURNING ${MESSAGE_COLUMNS}, ${memberIdsSql('$1')} AS member_ids`,
      [conversationId, userId, messageId, text]
    )
    const row = r.rows[0]
    if (!row) return null
    const updated = toMessage(row)
    emitToMembers(emit, splitIds(row.member_ids) ?? [], { type: 'message.updated', at: now(), conversationId, message: updated })
    return updated
  })
  if (!message) throw await whyNotOwnMessage(store, userId, conversationId, messageId, 'edit')
  store.cache?.invalidate(conversationId)
  store.lists?.invalidateConversation(conversationId)
  return message
}

/**
 * Deletes are hard, replies included in nothing: a deleted parent's replies stay (the thread shows
 * a "message deleted" stub), and a deleted reply's parent gets its summary rebuilt.
 */
export async function deleteMessage(store: ChatStore, userId: string, conversationId: string, messageId: string): Promise<void> {
  const deleted = await store.outbox.transaction(async (c, emit) => {
    const r = await c.query<{ member_ids: string; parent_id: string | null }>(
      // The counters follow: one message fewer in the conversation, and one fewer read by every
      // member whose marker had passed it (deletes are rare; sends stay one counter). The
      // conversation row is locked first, as a send locks it, so the two never deadlock over a
      // member row.
      `WITH lock AS (
         SELECT 1 FROM chat.conversations WHERE id = $1 FOR UPDATE
       ), del AS (
         DELETE FROM chat.messages
         WHERE id = $3 AND conversation_id = $1 AND sender_id = $2 AND EXISTS (SELECT 1 FROM lock)
           AND EXISTS (SELECT 1 FROM chat.members WHERE conversation_id = $1 AND user_id = $2)
           AND NOT EXISTS (SELECT 1 FROM chat.conversations WHERE id = $1 AND archived_at IS NOT NULL)
         RETURNING seq, parent_id
       ), total AS (
         UPDATE chat.conversations SET message_count = message_count - 1 WHERE id = $1 AND EXISTS (SELECT 1 FROM del)
       ), read AS (
         UPDATE chat.members SET read_count = read_count - 1 FROM del
         WHERE chat.members.conversation_id = $1 AND chat.members.last_read_seq >= del.seq AND chat.members.read_count > 0
       )
       SELECT del.parent_id, ${memberIdsSql('$1')} AS member_ids FROM del`,
      [conversationId, userId, messageId]
    )
    const row = r.rows[0]
    if (!row) return false
    const memberIds = splitIds(row.member_ids) ?? []
    emitToMembers(emit, memberIds, { type: 'message.deleted', at: now(), conversationId, messageId })
    if (row.parent_id) await refreshThreadSummary(c, emit, conversationId, row.parent_id, memberIds)
    return true
  })
  if (!deleted) throw await whyNotOwnMessage(store, userId, conversationId, messageId, 'delete')
  store.cache?.invalidate(conversationId)
  store.lists?.invalidateConversation(conversationId)
}

/** 404 when the caller cannot see the message at all, 409 when archived, 403 when it is not theirs. */
async function whyNotOwnMessage(store: ChatStore, userId: string, conversationId: string, messageId: string, action: 'edit' | 'delete'): Promise<ProblemError> {
  await requireMember(store, conversationId, userId)
  await requireNotArchived(store, conversationId)
  const r = await store.pg.query('SELECT 1 FROM chat.messages WHERE id = $1 AND conversation_id = $2', [messageId, conversationId])
  if (r.rowCount === 0) return problems.notFound('Message not found')
  return problems.forbidden(action === 'edit' ? 'Only your own messages can be edited' : 'Only your own messages can be deleted')
}

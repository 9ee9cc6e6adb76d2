import { THREAD_LIMITS, type ThreadPage } from '@palisade/contracts'
import { messageCursor } from '../lib/cursor.js'
import { emitToMembers } from '../lib/events.js'
import { MESSAGE_COLUMNS, toMessage, type MessageDbRow } from '../lib/rows.js'
import type pg from 'pg'
import { problems, type Emit } from '@palisade/platform'
import { now, type ChatStore } from './context.js'
import { requireMember } from './members.js'

/**
 * A thread: its parent (null once deleted — the replies stay, under a stub) and its replies oldest
 * first. Membership is checked in the same statement. An id that is no thread's parent and no
 * message of the conversation answers 404, as does a reply's id (threads are one level).
 */
export async function listThread(
  store: ChatStore,
  userId: string,
  conversationId: string,
  messageId: string,
  after: string | undefined,
  limit: number
): Promise<ThreadPage> {
  const afterSeq = messageCursor.decodeOptional(after) ?? 0
  const r = await store.pg.query<MessageDbRow & { is_parent: boolean }>({
    name: 'chat_list_thread',
    text: `SELECT false AS is_parent, ${MESSAGE_COLUMNS} FROM chat.messages
           WHERE parent_id = $3 AND conversation_id = $1 AND seq > $4
             AND EXISTS (SELECT 1 FROM chat.members WHERE conversation_id = $1 AND user_id = $2)
           UNION ALL
           (SELECT true AS is_parent, ${MESSAGE_COLUMNS} FROM chat.messages
            WHERE id = $3 AND conversation_id = $1 AND parent_id IS NULL
              AND EXISTS (SELECT 1 FROM chat.members WHERE conversation_id = $1 AND user_id = $2))
           ORDER BY is_parent DESC, seq LIMIT $5 + 2`,
    values: [conversationId, userId, messageId, afterSeq, limit]
  })
  const parentRow = r.rows[0]?.is_parent ? r.rows[0] : null
  const replies = r.rows.filter((x) => !x.is_parent)
  if (!parentRow && replies.length === 0) {
    await requireMember(store, conversationId, userId)
    // Past the last reply of a thread whose parent is gone: an empty page, not a 404.
    if (afterSeq === 0) throw problems.notFound('Message not found')
  }
  const page = replies.slice(0, limit)
  const last = page[page.length - 1]
  return {
    parent: parentRow ? toMessage(parentRow) : null,
    items: page.map(toMessage),
    nextCursor: replies.length > limit && last ? messageCursor.encode(Number(last.seq)) : null
  }
}

type Queryable = Pick<pg.Pool, 'query'>

/**
 * In the reply's transaction (after its insert bumped the parent): members see the parent's new
 * summary (`message.updated`), and the parent's author and earlier repliers still in the
 * conversation hear `thread.replied`.
 */
export async function announceReply(
  c: Queryable,
  emit: Emit,
  conversationId: string,
  parentId: string,
  replyId: string,
  senderId: string,
  members: string[]
): Promise<void> {
  const r = await c.query<MessageDbRow & { participants: string[] }>({
    name: 'chat_thread_participants',
    text: `SELECT ${MESSAGE_COLUMNS},
             ARRAY(SELECT DISTINCT sender_id FROM chat.messages WHERE parent_id = $1 AND conversation_id = $2) AS participants
           FROM chat.messages WHERE id = $1 AND conversation_id = $2`,
    values: [parentId, conversationId]
  })
  const parent = r.rows[0]
  if (!parent) return
  emitToMembers(emit, members, { type: 'message.updated', at: now(), conversationId, message: toMessage(parent) })
  const current = new Set(members)
  const notify = new Set([parent.sender_id, ...parent.participants].filter((id) => id !== senderId && current.has(id)))
  emitToMembers(emit, notify, { type: 'thread.replied', at: now(), conversationId, parentId, messageId: replyId, senderId })
}

/**
 * In the deleting transaction: the parent's count and latest repliers are rebuilt from what is left
 * (the caller invalidates the message cache after the commit).
 */
export async function refreshThreadSummary(c: Queryable, emit: Emit, conversationId: string, parentId: string, members: string[]): Promise<void> {
  const r = await c.query<MessageDbRow>({
    name: 'chat_thread_refresh',
    text: `UPDATE chat.messages p SET reply_count = s.n, last_reply_at = s.last, repliers = s.who
           FROM (
             SELECT count(*)::int AS n, max(created_at) AS last,
               ARRAY(SELECT sender_id FROM chat.messages WHERE parent_id = $1 AND conversation_id = $2
                     GROUP BY sender_id ORDER BY max(seq) DESC LIMIT ${THREAD_LIMITS.repliersShown}) AS who
             FROM chat.messages WHERE parent_id = $1 AND conversation_id = $2
           ) s
           WHERE p.id = $1 AND p.conversation_id = $2
           RETURNING ${MESSAGE_COLUMNS.split(', ')
             .map((c) => `p.${c}`)
             .join(', ')}`,
    values: [parentId, conversationId]
  })
  const parent = r.rows[0]
  if (!parent) return
  emitToMembers(emit, members, { type: 'message.updated', at: now(), conversationId, message: toMessage(parent) })
}

import { CHAT_LIMITS } from '@palisade/contracts'
import { problems } from '@palisade/platform'
import { emitToMembers } from '../lib/events.js'
import { notMember, now, type ChatStore } from './context.js'

/**
 * SQL for one member's unread count in one conversation: messages after their read marker that they
 * did not write themselves (agent messages count, also those of runs they started: they did not
 * write them), at most CHAT_LIMITS.unreadCountMax. Deleted messages are gone (deletes are hard), so
 * they never count. The ORDER BY keeps the planner on an index-only range scan of
 * messages_conversation_seq_idx that stops at the cap (a bitmap scan would read the whole range
 * first), so the cost is bounded by the cap, not by the size of the conversation.
 */
export const unreadCountSql = (conversationId: string, lastReadSeq: string, userId: string): string =>
  `(SELECT count(*)::int FROM (
     SELECT 1 FROM chat.messages u
     WHERE u.conversation_id = ${conversationId} AND u.seq > ${lastReadSeq} AND (u.sender_id <> ${userId} OR u.author_kind = 'agent')
     ORDER BY u.seq LIMIT ${CHAT_LIMITS.unreadCountMax}
   ) unread)`

/**
 * The caller has read their conversation up to and including `messageId`. The marker only moves
 * forward (an older message changes nothing), and only to a message of this conversation, so never
 * past its latest one. Membership check, lookup, update and the count left unread are one
 * statement. When the marker moved, the caller's own sessions hear `conversation.read`.
 */
export async function markRead(store: ChatStore, userId: string, conversationId: string, messageId: string): Promise<void> {
  await store.outbox.transaction(async (c, emit) => {
    const r = await c.query<{ member: boolean; seq: string | null; moved: string | null; unread: number | null }>({
      name: 'chat_mark_read',
      text: `WITH mem AS (
             SELECT 1 FROM chat.members WHERE conversation_id = $1 AND user_id = $2
           ), target AS (
             SELECT seq FROM chat.messages WHERE id = $3 AND conversation_id = $1 AND EXISTS (SELECT 1 FROM mem)
           ), upd AS (
             UPDATE chat.members SET last_read_seq = target.seq FROM target
             WHERE chat.members.conversation_id = $1 AND chat.members.user_id = $2 AND chat.members.last_read_seq < target.seq
             RETURNING chat.members.last_read_seq
           )
           SELECT EXISTS (SELECT 1 FROM mem) AS member, (SELECT seq FROM target) AS seq, (SELECT last_read_seq FROM upd) AS moved,
                  CASE WHEN EXISTS (SELECT 1 FROM upd) THEN ${unreadCountSql('$1', '(SELECT seq FROM target)', '$2')} END AS unread`,
      values: [conversationId, userId, messageId]
    })
    const row = r.rows[0]!
    if (!row.member) throw notMember()
    if (row.seq === null) throw problems.notFound('Message not found')
    if (row.moved === null) return
    emitToMembers(emit, [userId], { type: 'conversation.read', at: now(), conversationId, messageId, unreadCount: row.unread ?? 0 })
  })
}

import { CHAT_LIMITS } from '@palisade/contracts'
import { problems } from '@palisade/platform'
import { emitToMembers } from '../lib/events.js'
import { notMember, now, type ChatStore } from './context.js'

/**
 * SQL for one member's unread count, from the counters of their membership (`m`) and its
 * conversation (`c`): the messages after their read marker, at most CHAT_LIMITS.unreadCountMax.
 * Their own messages never count because sending one moves the sender's marker to it; agent
 * messages do count, also those of runs they started (they did not write them). Deleted messages
 * are gone (deletes are hard and count both counters down). Constant cost per row, whatever the
 * size of the conversation — see docs/performance.md, "Unread counts".
 */
export const unreadCountSql = (member: string, conversation: string): string =>
  `LEAST(${CHAT_LIMITS.unreadCountMax}, GREATEST(0, ${conversation}.message_count - ${member}.read_count))`

/**
 * The caller has read their conversation up to and including `messageId`. The marker only moves
 * forward (an older message changes nothing), and only to a message of this conversation, so never
 * past its latest one. Membership check, lookup, update and the count left unread are one
 * statement. When the marker moved, the caller's own sessions hear `conversation.read`.
 */
export async function markRead(store: ChatStore, userId: string, conversationId: string, messageId: string): Promise<void> {
  const moved = await store.outbox.transaction(async (c, emit) => {
    const r = await c.query<{ member: boolean; seq: string | null; moved: string | null; unread: number | null }>({
      name: 'chat_mark_read',
      // read_count is recounted here (index-only count of the messages after the marker), so a
      // counter that drifted in a race between concurrent writers is exact again after each read.
      text: `WITH mem AS (
               SELECT 1 FROM chat.members WHERE conversation_id = $1 AND user_id = $2
             ), target AS (
               SELECT seq FROM chat.messages WHERE id = $3 AND conversation_id = $1 AND EXISTS (SELECT 1 FROM mem)
             ), later AS (
               SELECT count(*)::int AS n FROM chat.messages WHERE conversation_id = $1 AND seq > (SELECT seq FROM target)
             ), upd AS (
               UPDATE chat.members SET last_read_seq = target.seq, read_count = GREATEST(0, c.message_count - later.n)
               FROM target, later, chat.conversations c
               WHERE c.id = $1 AND chat.members.conversation_id = $1 AND chat.members.user_id = $2 AND chat.members.last_read_seq < target.seq
               RETURNING chat.members.last_read_seq, later.n
             )
             SELECT EXISTS (SELECT 1 FROM mem) AS member, (SELECT seq FROM target) AS seq, (SELECT last_read_seq FROM upd) AS moved,
                    (SELECT LEAST(${CHAT_LIMITS.unreadCountMax}, n) FROM upd) AS unread`,
      values: [conversationId, userId, messageId]
    })
    const row = r.rows[0]!
    if (!row.member) throw notMember()
    if (row.seq === null) throw problems.notFound('Message not found')
    if (row.moved === null) return false
    emitToMembers(emit, [userId], { type: 'conversation.read', at: now(), conversationId, messageId, unreadCount: row.unread ?? 0 })
    return true
  })
  if (moved) store.lists?.invalidateUser(userId)
}

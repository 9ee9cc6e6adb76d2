import type { Conversation, ConversationPage, ConversationWithUnread } from '@palisade/contracts'
import type { CallContext } from '@palisade/platform'
import { conversationCursor } from '../lib/cursor.js'
import { emitToMembers } from '../lib/events.js'
import { CONVERSATION_COLUMNS, toConversation, toConversationWithUnread, type ConversationDbRow, type ConversationWithUnreadDbRow } from '../lib/rows.js'
import { notMember, now, type ChatStore } from './context.js'
import { requireUsersExist, tooManyMembers } from './members.js'
import { unreadCountSql } from './read-markers.js'

const CONVERSATION_COLUMNS_OF_C = CONVERSATION_COLUMNS.split(', ')
  .map((c) => `c.${c}`)
  .join(', ')

export async function createConversation(
  store: ChatStore,
  userId: string,
  body: { title: string; memberIds?: string[] | undefined },
  ctx: CallContext
): Promise<Conversation> {
  const others = [...new Set(body.memberIds ?? [])].filter((id) => id !== userId)
  if (others.length + 1 > store.maxMembers) throw tooManyMembers(store)
  await requireUsersExist(store, others, ctx)
  return store.outbox.transaction(async (c, emit) => {
    const r = await c.query<ConversationDbRow>(
      `INSERT INTO chat.conversations (title, owner_id, member_count) VALUES ($1, $2, $3) RETURNING ${CONVERSATION_COLUMNS}`,
      [body.title, userId, others.length + 1]
    )
    const row = r.rows[0]!
    await c.query(
      `INSERT INTO chat.members (conversation_id, user_id, role)
       SELECT $1, u, CASE WHEN u = $2 THEN 'owner' ELSE 'member' END FROM unnest($3::uuid[]) AS u`,
      [row.id, userId, [userId, ...others]]
    )
    const conversation = toConversation(row)
    emitToMembers(emit, [userId, ...others], { type: 'conversation.created', at: now(), conversation })
    return conversation
  })
}

/** The page is chosen first and unread counts are computed only for its rows (not for every conversation of the user). */
export async function listConversations(
  store: ChatStore,
  userId: string,
  cursor: string | undefined,
  limit: number,
  archived = false
): Promise<ConversationPage> {
  const before = conversationCursor.decodeOptional(cursor)
  const r = await store.pg.query<ConversationWithUnreadDbRow>({
    name: 'chat_list_conversations',
    text: `SELECT ${CONVERSATION_COLUMNS}, ${unreadCountSql('p.id', 'p.last_read_seq', '$1')} AS unread_count, p.notify_level
           FROM (
             SELECT ${CONVERSATION_COLUMNS_OF_C}, m.last_read_seq, m.notify_level
             FROM chat.members m JOIN chat.conversations c ON c.id = m.conversation_id
             WHERE m.user_id = $1 AND c.activity_seq < COALESCE($2::bigint, 9223372036854775807) AND (c.archived_at IS NOT NULL) = $4
             ORDER BY c.activity_seq DESC LIMIT $3
           ) p
           ORDER BY p.activity_seq DESC`,
    values: [userId, before ?? null, limit + 1, archived]
  })
  const rows = r.rows.slice(0, limit)
  const last = rows[rows.length - 1]
  return {
    items: rows.map(toConversationWithUnread),
    nextCursor: r.rows.length > limit && last ? conversationCursor.encode(Number(last.activity_seq)) : null
  }
}

export async function getConversation(store: ChatStore, userId: string, id: string): Promise<ConversationWithUnread> {
  const r = await store.pg.query<ConversationWithUnreadDbRow>({
    name: 'chat_get_conversation',
    text: `SELECT ${CONVERSATION_COLUMNS_OF_C}, ${unreadCountSql('c.id', 'm.last_read_seq', '$2')} AS unread_count, m.notify_level
           FROM chat.conversations c JOIN chat.members m ON m.conversation_id = c.id AND m.user_id = $2
           WHERE c.id = $1`,
    values: [id, userId]
  })
  const row = r.rows[0]
  if (!row) throw notMember()
  return toConversationWithUnread(row)
}

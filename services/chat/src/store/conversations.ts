import type pg from 'pg'
import type { Conversation, ConversationPage, ConversationWithUnread } from '@palisade/contracts'
import type { CallContext } from '@palisade/platform'
import type { ListLoader } from '../lib/conversation-list-cache.js'
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
  const created = await store.outbox.transaction(async (c, emit) => {
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
  for (const id of [userId, ...others]) store.lists?.invalidateUser(id)
  return created
}

/** Newest activity first; unread counts come from the counters (read-markers.ts), not from counting messages. */
async function conversationPage(pool: pg.Pool, userId: string, before: number | undefined, limit: number, archived: boolean): Promise<ConversationPage> {
  const r = await pool.query<ConversationWithUnreadDbRow>({
    name: 'chat_list_conversations',
    text: `SELECT ${CONVERSATION_COLUMNS_OF_C}, ${unreadCountSql('m', 'c')} AS unread_count, m.notify_level
           FROM chat.members m JOIN chat.conversations c ON c.id = m.conversation_id
           WHERE m.user_id = $1 AND c.activity_seq < COALESCE($2::bigint, 9223372036854775807) AND (c.archived_at IS NOT NULL) = $4
           ORDER BY c.activity_seq DESC LIMIT $3`,
    values: [userId, before ?? null, limit + 1, archived]
  })
  const rows = r.rows.slice(0, limit)
  const last = rows[rows.length - 1]
  return {
    items: rows.map(toConversationWithUnread),
    nextCursor: r.rows.length > limit && last ? conversationCursor.encode(Number(last.activity_seq)) : null
  }
}

/**
 * What the conversation-list cache keeps for a user: their first page as JSON (ConversationPageSchema,
 * test/conversation-list-cache.test.ts compares it with the uncached answer) and every conversation
 * they are in, whose changes drop it.
 */
export const loadConversationList =
  (pool: pg.Pool): ListLoader =>
  async (userId, limit) => {
    const [page, ids] = await Promise.all([
      conversationPage(pool, userId, undefined, limit, false),
      pool.query<{ conversation_id: string }>({
        name: 'chat_my_conversation_ids',
        text: 'SELECT conversation_id FROM chat.members WHERE user_id = $1',
        values: [userId]
      })
    ])
    return { json: JSON.stringify(page), conversationIds: ids.rows.map((r) => r.conversation_id) }
  }

/**
 * A page of "my conversations" (or of the archived ones); the first page of the main list from
 * memory when the list cache answers (as JSON bytes).
 */
export async function listConversations(
  store: ChatStore,
  userId: string,
  cursor: string | undefined,
  limit: number,
  archived = false
): Promise<ConversationPage | Buffer> {
  const before = conversationCursor.decodeOptional(cursor)
  if (before === undefined && !archived) {
    const cached = await store.lists?.firstPage(userId, limit)
    if (cached) return cached
  }
  return conversationPage(store.pg, userId, before, limit, archived)
}

export async function getConversation(store: ChatStore, userId: string, id: string): Promise<ConversationWithUnread> {
  const r = await store.pg.query<ConversationWithUnreadDbRow>({
    name: 'chat_get_conversation',
    text: `SELECT ${CONVERSATION_COLUMNS_OF_C}, ${unreadCountSql('m', 'c')} AS unread_count, m.notify_level
           FROM chat.conversations c JOIN chat.members m ON m.conversation_id = c.id AND m.user_id = $2
           WHERE c.id = $1`,
    values: [id, userId]
  })
  const row = r.rows[0]
  if (!row) throw notMember()
  return toConversationWithUnread(row)
}

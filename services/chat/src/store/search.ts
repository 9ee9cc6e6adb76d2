import type { MessagePage } from '@palisade/contracts'
import { SEARCH_CONFIG } from '../db/schema.js'
import { searchCursor } from '../lib/cursor.js'
import { MESSAGE_COLUMNS, toMessage, type MessageDbRow } from '../lib/rows.js'
import type { ChatStore } from './context.js'
import { requireMember } from './members.js'

const MESSAGE_COLUMNS_OF_M = MESSAGE_COLUMNS.split(', ')
  .map((c) => `m.${c}`)
  .join(', ')

/**
 * Full-text search over the caller's conversations, newest match first. The function and its
 * configuration are schema-qualified and typed so no look-alike elsewhere can be chosen, whatever
 * the search_path (which is pinned too, see serviceSearchPath).
 */
export async function search(
  store: ChatStore,
  userId: string,
  q: string,
  conversationId: string | undefined,
  cursor: string | undefined,
  limit: number
): Promise<MessagePage> {
  const before = searchCursor.decodeOptional(cursor)
  if (conversationId) await requireMember(store, conversationId, userId)
  const r = await store.pg.query<MessageDbRow>({
    name: 'chat_search',
    text: `SELECT ${MESSAGE_COLUMNS_OF_M}
           FROM chat.messages m
           JOIN chat.members mem ON mem.conversation_id = m.conversation_id AND mem.user_id = $1
           WHERE m.tsv @@ pg_catalog.websearch_to_tsquery('pg_catalog.${SEARCH_CONFIG}'::pg_catalog.regconfig, $2::text)
             AND ($3::uuid IS NULL OR m.conversation_id = $3)
             AND m.seq < COALESCE($4::bigint, 9223372036854775807)
           ORDER BY m.seq DESC LIMIT $5`,
    values: [userId, q, conversationId ?? null, before ?? null, limit + 1]
  })
  const page = r.rows.slice(0, limit)
  const last = page[page.length - 1]
  return { items: page.map(toMessage), nextCursor: r.rows.length > limit && last ? searchCursor.encode(Number(last.seq)) : null }
}

import { SEARCH_FILTER_INVALID, type MessagePage } from '@palisade/contracts'
import { problems } from '@palisade/platform'
import { SEARCH_CONFIG } from '../db/schema.js'
import { searchCursor } from '../lib/cursor.js'
import { MESSAGE_COLUMNS, toMessage, type MessageDbRow } from '../lib/rows.js'
import { parseSearch, type ParsedSearch } from '../lib/search-query.js'
import type { ChatStore } from './context.js'
import { requireMember } from './members.js'

const MESSAGE_COLUMNS_OF_M = MESSAGE_COLUMNS.split(', ')
  .map((c) => `m.${c}`)
  .join(', ')

/**
 * The statement for one combination of filters (at most 32, each prepared once per connection):
 * only the conditions in use, so every plan is specific. The access rule is part of the query —
 * the caller's memberships (narrowed to `in:`) bound which messages are read at all.
 *
 * With words, one scan of messages_search_idx intersects "in one of these conversations" with
 * "has these words", and only the matches are read. A query of filters only walks each of the
 * caller's conversations newest first (one bounded index range per conversation) and merges them.
 * docs/performance.md shows both plans on 1 M messages.
 */
function searchSql(f: ParsedSearch & { userId: string; cursor: number | null; limit: number }): { name: string; text: string; values: unknown[] } {
  const values: unknown[] = []
  const param = (v: unknown) => {
    values.push(v)
    return `$${values.length}`
  }
  const memberships = `SELECT conversation_id FROM chat.members WHERE user_id = ${param(f.userId)}${
    f.conversationId !== null ? ` AND conversation_id = ${param(f.conversationId)}::uuid` : ''
  }`
  const where: string[] = []
  if (f.senderId !== null) where.push(`m.sender_id = ${param(f.senderId)}::uuid`)
  if (f.hasFile) where.push('cardinality(m.attachments) > 0')
  if (f.before !== null) where.push(`m.created_at < ${param(f.before)}::timestamptz`)
  if (f.after !== null) where.push(`m.created_at >= ${param(f.after)}::timestamptz`)
  where.push(`m.seq < COALESCE(${param(f.cursor)}::bigint, 9223372036854775807)`)
  const limit = param(f.limit + 1)
  const name = `chat_search_${[f.text, f.conversationId, f.senderId, f.hasFile || null, f.before, f.after].map((x) => (x === null ? 0 : 1)).join('')}`
  if (f.text !== null) {
    const words = `pg_catalog.websearch_to_tsquery('pg_catalog.${SEARCH_CONFIG}'::pg_catalog.regconfig, ${param(f.text)}::text)`
    // `ARRAY[conversation_id] && …` and `tsv @@ …` are the two columns of messages_search_idx.
    const text = `SELECT ${MESSAGE_COLUMNS_OF_M} FROM chat.messages m
                  WHERE ARRAY[m.conversation_id] && (SELECT array_agg(conversation_id) FROM (${memberships}) mine)
                    AND m.tsv @@ ${words} AND ${where.join(' AND ')}
                  ORDER BY m.seq DESC LIMIT ${limit}`
    return { name, text, values }
  }
  const text = `SELECT ${MESSAGE_COLUMNS_OF_M} FROM (${memberships}) mine
                CROSS JOIN LATERAL (
                  SELECT ${MESSAGE_COLUMNS} FROM chat.messages m
                  WHERE m.conversation_id = mine.conversation_id AND ${where.join(' AND ')}
                  ORDER BY m.seq DESC LIMIT ${limit}
                ) m
                ORDER BY m.seq DESC LIMIT ${limit}`
  return { name, text, values }
}

/**
 * Search over the caller's conversations, newest match first: full text (web-search syntax) and the
 * filters of parseSearch. The function and its configuration are schema-qualified and typed so no
 * look-alike elsewhere can be chosen, whatever the search_path (which is pinned too, see
 * serviceSearchPath).
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
  const parsed = parseSearch(q, userId)
  if (conversationId && parsed.conversationId && conversationId.toLowerCase() !== parsed.conversationId) {
    throw problems.badRequest('in: and conversationId name different conversations', SEARCH_FILTER_INVALID)
  }
  const inConversation = parsed.conversationId ?? conversationId ?? null
  if (inConversation) await requireMember(store, inConversation, userId)
  const r = await store.pg.query<MessageDbRow>(searchSql({ ...parsed, conversationId: inConversation, userId, cursor: before ?? null, limit }))
  const page = r.rows.slice(0, limit)
  const last = page[page.length - 1]
  return { items: page.map(toMessage), nextCursor: r.rows.length > limit && last ? searchCursor.encode(Number(last.seq)) : null }
}

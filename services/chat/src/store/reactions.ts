import { REACTION_LIMITS, ReactionErrorCode, type Message, type ReactionSummary } from '@palisade/contracts'
import { problems } from '@palisade/platform'
import { emitToMembers } from '../lib/events.js'
import { MESSAGE_COLUMNS, toMessage, type MessageDbRow } from '../lib/rows.js'
import { now, type ChatStore } from './context.js'
import { requireNotArchived } from './conversation-admin.js'
import { requireMember } from './members.js'
import { memberIdsSql, splitIds } from '../lib/member-ids.js'

/**
 * Exactly one emoji of Unicode's recommended set (RGI: single pictographs, skin tones, ZWJ
 * sequences, flags, keycaps), from the engine's own Unicode tables — no hand-kept list. The `v`
 * flag needs Node 20 or later.
 */
// biome-ignore lint/complexity/useRegexLiterals: a `v` literal needs an ES2024 target; the project targets ES2022
const SINGLE_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v')

export function isSingleEmoji(value: string): boolean {
  return value.length <= REACTION_LIMITS.emojiMaxLength && SINGLE_EMOJI.test(value)
}

/**
 * Turns the caller's reaction with `emoji` on or off (idempotent) and rebuilds the message's
 * summary, in one transaction that locks the message row: concurrent reactions to one message queue
 * there, so the limit of distinct emoji holds and the summary is never stale.
 */
export async function setReaction(
  store: ChatStore,
  userId: string,
  conversationId: string,
  messageId: string,
  emoji: string,
  reacted: boolean
): Promise<Message> {
  if (!isSingleEmoji(emoji)) throw problems.badRequest('A reaction is exactly one Unicode emoji', ReactionErrorCode.invalidEmoji)
  const result = await store.outbox.transaction(async (c, emit) => {
    const target = await c.query<{ member_ids: string }>(
      `SELECT ${memberIdsSql('$2')} AS member_ids
       FROM chat.messages WHERE id = $1 AND conversation_id = $2
         AND EXISTS (SELECT 1 FROM chat.members WHERE conversation_id = $2 AND user_id = $3)
         AND NOT EXISTS (SELECT 1 FROM chat.conversations WHERE id = $2 AND archived_at IS NOT NULL)
       FOR UPDATE`,
      [messageId, conversationId, userId]
    )
    const row = target.rows[0]
    if (!row) return null
    if (reacted) {
      const seen = await c.query<{ distinct_emoji: number; has: boolean }>(
        'SELECT count(DISTINCT emoji)::int AS distinct_emoji, coalesce(bool_or(emoji = $2), false) AS has FROM chat.message_reactions WHERE message_id = $1',
        [messageId, emoji]
      )
      const { distinct_emoji, has } = seen.rows[0]!
      if (!has && distinct_emoji >= REACTION_LIMITS.distinctMax) {
        throw problems.conflict(`A message can have at most ${REACTION_LIMITS.distinctMax} different reactions`, ReactionErrorCode.tooManyReactions)
      }
      await c.query('INSERT INTO chat.message_reactions (message_id, emoji, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [messageId, emoji, userId])
    } else {
      await c.query('DELETE FROM chat.message_reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3', [messageId, emoji, userId])
    }
    const summary = await c.query<{ emoji: string; count: number; user_ids: string[] }>(
      `SELECT emoji, count(*)::int AS count, (array_agg(user_id ORDER BY created_at, user_id))[1:${REACTION_LIMITS.usersListed}] AS user_ids
       FROM chat.message_reactions WHERE message_id = $1
       GROUP BY emoji ORDER BY min(created_at), emoji`,
      [messageId]
    )
    const reactions: ReactionSummary[] = summary.rows.map((s) => ({ emoji: s.emoji, count: s.count, userIds: s.user_ids }))
    const updated = await c.query<MessageDbRow>(
      `UPDATE chat.messages SET reactions = $2 WHERE id = $1 AND reactions IS DISTINCT FROM $2 RETURNING ${MESSAGE_COLUMNS}`,
      [messageId, JSON.stringify(reactions)]
    )
    if (updated.rows[0]) {
      const message = toMessage(updated.rows[0])
      emitToMembers(emit, splitIds(row.member_ids) ?? [], { type: 'message.updated', at: now(), conversationId, message })
      return { message, changed: true }
    }
    const same = await c.query<MessageDbRow>(`SELECT ${MESSAGE_COLUMNS} FROM chat.messages WHERE id = $1`, [messageId])
    return { message: toMessage(same.rows[0]!), changed: false }
  })
  if (!result) {
    await requireMember(store, conversationId, userId)
    await requireNotArchived(store, conversationId)
    throw problems.notFound('Message not found')
  }
  if (result.changed) store.cache?.invalidate(conversationId)
  return result.message
}

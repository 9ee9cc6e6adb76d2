import { MENTION_LIMITS, type MentionCounts, type MentionPolicy } from '@palisade/contracts'
import type { Emit } from '@palisade/platform'
import { emitToMembers } from '../lib/events.js'
import { now, type ChatStore } from './context.js'
import { requireMember, requireOwner } from './members.js'

export async function massMentionsAllowed(store: ChatStore, conversationId: string): Promise<boolean> {
  const r = await store.pg.query<{ allow_mass_mentions: boolean }>({
    name: 'chat_mention_policy',
    text: 'SELECT allow_mass_mentions FROM chat.mention_policies WHERE conversation_id = $1',
    values: [conversationId]
  })
  return r.rows[0]?.allow_mass_mentions ?? false
}

export async function getMentionPolicy(store: ChatStore, userId: string, conversationId: string): Promise<MentionPolicy> {
  await requireMember(store, conversationId, userId)
  return { allowMassMentions: await massMentionsAllowed(store, conversationId) }
}

/** Owner only: other members get 403 (they can see the conversation), outsiders 404. */
export async function setMentionPolicy(store: ChatStore, userId: string, conversationId: string, policy: MentionPolicy): Promise<MentionPolicy> {
  await requireOwner(store, conversationId, userId)
  await store.pg.query(
    `INSERT INTO chat.mention_policies (conversation_id, allow_mass_mentions) VALUES ($1, $2)
     ON CONFLICT (conversation_id) DO UPDATE SET allow_mass_mentions = EXCLUDED.allow_mass_mentions`,
    [conversationId, policy.allowMassMentions]
  )
  return policy
}

/**
 * Unread mentions per conversation: mention rows after the member's read marker, so moving the
 * marker (`POST /conversations/:id/read`) resets them. One index range of message_mentions_user_idx
 * per conversation, each stopping at MENTION_LIMITS.countMax.
 */
export async function mentionCounts(store: ChatStore, userId: string): Promise<MentionCounts> {
  const r = await store.pg.query<{ conversation_id: string; count: number }>({
    name: 'chat_mention_counts',
    text: `SELECT mem.conversation_id, c.count FROM chat.members mem
           CROSS JOIN LATERAL (
             SELECT count(*)::int AS count FROM (
               SELECT 1 FROM chat.message_mentions mm
               WHERE mm.user_id = $1 AND mm.conversation_id = mem.conversation_id AND mm.seq > mem.last_read_seq
               LIMIT $2
             ) x
           ) c
           WHERE mem.user_id = $1 AND c.count > 0`,
    values: [userId, MENTION_LIMITS.countMax]
  })
  return { items: r.rows.map((x) => ({ conversationId: x.conversation_id, count: x.count })) }
}

/** In the message's transaction: every session of each mentioned user hears it after the commit. */
export function emitMentions(emit: Emit, userIds: string[], conversationId: string, messageId: string, senderId: string, mass: boolean): void {
  if (userIds.length === 0) return
  emitToMembers(emit, userIds, { type: 'mention.created', at: now(), conversationId, messageId, senderId, mass })
}

import { AuthUserLookup, ErrorCode, type Member, type MemberPage, type MemberRole } from '@palisade/contracts'
import type pg from 'pg'
import { natsRequest, ProblemError, problems, type CallContext } from '@palisade/platform'
import { memberCursor } from '../lib/cursor.js'
import { emitMembershipChange } from '../lib/events.js'
import { CONVERSATION_COLUMNS, toConversation, toMember, type ConversationDbRow, type MemberDbRow } from '../lib/rows.js'
import { notMember, now, type ChatStore } from './context.js'
import { leaveConversation } from './conversation-admin.js'

export async function roleOf(store: ChatStore, conversationId: string, userId: string): Promise<MemberRole | null> {
  const r = await store.pg.query<{ role: MemberRole }>({
    name: 'chat_role_of',
    text: 'SELECT role FROM chat.members WHERE conversation_id = $1 AND user_id = $2',
    values: [conversationId, userId]
  })
  return r.rows[0]?.role ?? null
}

export async function requireMember(store: ChatStore, conversationId: string, userId: string): Promise<MemberRole> {
  const role = await roleOf(store, conversationId, userId)
  if (!role) throw notMember()
  return role
}

export async function requireOwner(store: ChatStore, conversationId: string, userId: string): Promise<void> {
  const role = await requireMember(store, conversationId, userId)
  if (role !== 'owner') throw problems.forbidden('Only the owner may do this')
}

/** `db`: the pool, or the client of the transaction that is about to announce a change. */
export async function memberIds(db: pg.Pool | pg.PoolClient, conversationId: string): Promise<string[]> {
  const r = await db.query<{ user_id: string }>({
    name: 'chat_member_ids',
    text: 'SELECT user_id FROM chat.members WHERE conversation_id = $1',
    values: [conversationId]
  })
  return r.rows.map((x) => x.user_id)
}

/** Member ids of a conversation, for a caller who must be one of them. */
export async function memberIdsFor(store: ChatStore, conversationId: string, userId: string): Promise<string[]> {
  const ids = await memberIds(store.pg, conversationId)
  if (!ids.includes(userId)) throw notMember()
  return ids
}

/** Users that auth does not know make the whole request fail (no half-created conversations). */
export async function requireUsersExist(store: ChatStore, userIds: string[], ctx: CallContext): Promise<void> {
  if (userIds.length === 0) return
  const { users } = await natsRequest(store.nats, AuthUserLookup, { userIds }, ctx)
  const known = new Set(users.map((u) => u.id))
  if (userIds.some((id) => !known.has(id))) throw problems.notFound('User not found')
}

export function tooManyMembers(store: ChatStore): ProblemError {
  return new ProblemError(409, ErrorCode.quotaExceeded, `A conversation has at most ${store.maxMembers} members`)
}

export async function listMembers(store: ChatStore, userId: string, id: string, cursor: string | undefined, limit: number): Promise<MemberPage> {
  await requireMember(store, id, userId)
  const after = memberCursor.decodeOptional(cursor) ?? null
  const r = await store.pg.query<MemberDbRow>(
    `SELECT user_id, role, joined_at FROM chat.members
     WHERE conversation_id = $1 AND ($2::uuid IS NULL OR user_id > $2) ORDER BY user_id LIMIT $3`,
    [id, after, limit + 1]
  )
  const rows = r.rows.slice(0, limit)
  const last = rows[rows.length - 1]
  return { items: rows.map(toMember), nextCursor: r.rows.length > limit && last ? memberCursor.encode(last.user_id) : null }
}

/** Adds a member (owner only). Adding someone who already is one answers their membership again. */
export async function addMember(
  store: ChatStore,
  userId: string,
  id: string,
  newUserId: string,
  ctx: CallContext
): Promise<{ member: Member; created: boolean }> {
  await requireOwner(store, id, userId)
  await requireUsersExist(store, [newUserId], ctx)
  const result = await store.outbox.transaction(async (c, emit) => {
    // A new member's read marker starts at the latest message: the history is there to read, but
    // joining a busy conversation must not light it up with hundreds of "unread" messages.
    const ins = await c.query<MemberDbRow>(
      `INSERT INTO chat.members (conversation_id, user_id, role, last_read_seq)
       VALUES ($1, $2, 'member', (SELECT coalesce(max(seq), 0) FROM chat.messages WHERE conversation_id = $1))
       ON CONFLICT (conversation_id, user_id) DO NOTHING RETURNING user_id, role, joined_at`,
      [id, newUserId]
    )
    if (!ins.rows[0]) {
      const existing = await c.query<MemberDbRow>('SELECT user_id, role, joined_at FROM chat.members WHERE conversation_id = $1 AND user_id = $2', [
        id,
        newUserId
      ])
      if (!existing.rows[0]) throw notMember()
      return { member: toMember(existing.rows[0]), created: false }
    }
    const upd = await c.query<ConversationDbRow>(
      `UPDATE chat.conversations SET member_count = member_count + 1, updated_at = now()
       WHERE id = $1 AND member_count < $2 RETURNING ${CONVERSATION_COLUMNS}`,
      [id, store.maxMembers]
    )
    if (!upd.rows[0]) throw tooManyMembers(store)
    emitMembershipChange(emit, await memberIds(c, id), {
      type: 'member.added',
      at: now(),
      conversationId: id,
      userId: newUserId,
      role: 'member',
      conversation: toConversation(upd.rows[0])
    })
    return { member: toMember(ins.rows[0]), created: true }
  })
  if (result.created) store.cache?.invalidate(id)
  return { member: result.member, created: result.created }
}

/** The owner removes a member, or a member removes themselves (= leaveConversation). */
export async function removeMember(store: ChatStore, userId: string, id: string, targetId: string): Promise<void> {
  if (targetId === userId) {
    await leaveConversation(store, userId, id)
    return
  }
  const role = await requireMember(store, id, userId)
  if (role !== 'owner') throw problems.forbidden('Only the owner may remove members')
  await store.outbox.transaction(async (c, emit) => {
    const d = await c.query("DELETE FROM chat.members WHERE conversation_id = $1 AND user_id = $2 AND role <> 'owner'", [id, targetId])
    if (d.rowCount === 0) throw problems.notFound('Member not found')
    await c.query('UPDATE chat.conversations SET member_count = member_count - 1, updated_at = now() WHERE id = $1', [id])
    const remaining = await memberIds(c, id)
    emitMembershipChange(emit, [...remaining, targetId], { type: 'member.removed', at: now(), conversationId: id, userId: targetId })
  })
  store.cache?.invalidate(id)
}

import { ErrorCode, type Conversation, type LeaveResult, type NotifyLevel } from '@palisade/contracts'
import { ProblemError, problems } from '@palisade/platform'
import { emitMembershipChange, emitToMembers } from '../lib/events.js'
import { CONVERSATION_COLUMNS, toConversation, type ConversationDbRow } from '../lib/rows.js'
import { notMember, now, type ChatStore } from './context.js'
import { memberIds, requireOwner } from './members.js'

export const archivedProblem = () => new ProblemError(409, ErrorCode.conversationArchived, 'The conversation is archived (read-only)')

/** 409 CONVERSATION_ARCHIVED when the conversation is archived; for callers already known to be members. */
export async function requireNotArchived(store: ChatStore, conversationId: string): Promise<void> {
  const r = await store.pg.query<{ archived: boolean }>({
    name: 'chat_conversation_archived',
    text: 'SELECT archived_at IS NOT NULL AS archived FROM chat.conversations WHERE id = $1',
    values: [conversationId]
  })
  if (r.rows[0]?.archived) throw archivedProblem()
}

export interface ConversationChange {
  title?: string | undefined
  topic?: string | undefined
  /** true archives, false restores */
  archived?: boolean | undefined
}

/**
 * Rename, topic, archive and restore (owner only). An archived conversation keeps its title and
 * topic until restored (a change that also restores it is allowed). Every member hears
 * `conversation.updated`.
 */
export async function updateConversation(store: ChatStore, userId: string, id: string, change: ConversationChange): Promise<Conversation> {
  await requireOwner(store, id, userId)
  const conversation = await store.outbox.transaction(async (c, emit) => {
    const r = await c.query<ConversationDbRow>(
      `UPDATE chat.conversations
     SET title = COALESCE($2, title), topic = COALESCE($3, topic),
         archived_at = CASE WHEN $4::boolean IS NULL THEN archived_at WHEN $4 THEN COALESCE(archived_at, now()) ELSE NULL END,
         updated_at = now()
     WHERE id = $1 AND owner_id = $5 AND (($2::text IS NULL AND $3::text IS NULL) OR archived_at IS NULL OR $4 = false)
     RETURNING ${CONVERSATION_COLUMNS}`,
      [id, change.title ?? null, change.topic ?? null, change.archived ?? null, userId]
    )
    const row = r.rows[0]
    if (!row) return null
    const updated = toConversation(row)
    emitToMembers(emit, await memberIds(c, id), { type: 'conversation.updated', at: now(), conversation: updated })
    return updated
  })
  if (!conversation) {
    // Either ownership moved meanwhile (403/404 as usual) or it is archived.
    await requireOwner(store, id, userId)
    throw archivedProblem()
  }
  return conversation
}

/** The owner hands the conversation to another current member (who becomes its only owner). */
export async function transferOwnership(store: ChatStore, userId: string, id: string, newOwnerId: string): Promise<Conversation> {
  await requireOwner(store, id, userId)
  return store.outbox.transaction(async (c, emit) => {
    // The conversation row first: concurrent transfers and leaves queue up behind it.
    const conv = await c.query('SELECT 1 FROM chat.conversations WHERE id = $1 AND owner_id = $2 FOR UPDATE', [id, userId])
    if (conv.rowCount === 0) throw problems.forbidden('Only the owner may do this')
    const target = await c.query("UPDATE chat.members SET role = 'owner' WHERE conversation_id = $1 AND user_id = $2 AND role = 'member'", [id, newOwnerId])
    if (target.rowCount === 0) {
      if (newOwnerId === userId) throw problems.conflict('You already own this conversation')
      throw problems.notFound('Member not found')
    }
    await c.query("UPDATE chat.members SET role = 'member' WHERE conversation_id = $1 AND user_id = $2", [id, userId])
    const upd = await c.query<ConversationDbRow>(
      `UPDATE chat.conversations SET owner_id = $2, updated_at = now() WHERE id = $1 RETURNING ${CONVERSATION_COLUMNS}`,
      [id, newOwnerId]
    )
    const conversation = toConversation(upd.rows[0]!)
    emitToMembers(emit, await memberIds(c, id), { type: 'conversation.updated', at: now(), conversation })
    return conversation
  })
}

/**
 * The caller leaves. A member just goes; the owner must transfer ownership first (409
 * OWNER_MUST_TRANSFER) unless they are the last member, and then the conversation is deleted with
 * everything in it (as `deleteConversation`).
 */
export async function leaveConversation(store: ChatStore, userId: string, id: string): Promise<LeaveResult> {
  const result = await store.outbox.transaction(async (c, emit) => {
    const r = await c.query<{ role: string; member_count: number }>(
      `SELECT m.role, c.member_count FROM chat.conversations c JOIN chat.members m ON m.conversation_id = c.id AND m.user_id = $2
       WHERE c.id = $1 FOR UPDATE OF c`,
      [id, userId]
    )
    const me = r.rows[0]
    if (!me) throw notMember()
    if (me.role === 'owner') {
      if (me.member_count > 1) throw new ProblemError(409, ErrorCode.ownerMustTransfer, 'Transfer ownership to another member before leaving')
      await c.query('DELETE FROM chat.conversations WHERE id = $1', [id])
      emitMembershipChange(emit, [userId], { type: 'conversation.deleted', at: now(), conversationId: id })
      return { deleted: true }
    }
    await c.query('DELETE FROM chat.members WHERE conversation_id = $1 AND user_id = $2', [id, userId])
    await c.query('UPDATE chat.conversations SET member_count = member_count - 1, updated_at = now() WHERE id = $1', [id])
    const remaining = await memberIds(c, id)
    emitMembershipChange(emit, [...remaining, userId], { type: 'member.removed', at: now(), conversationId: id, userId })
    return { deleted: false }
  })
  store.cache?.invalidate(id)
  return result
}

/**
 * Deletes a conversation (owner only): its messages go with it at once, and the files service,
 * hearing `conversation.deleted`, deletes the files shared with it (a file is shared with at most
 * one conversation).
 */
export async function deleteConversation(store: ChatStore, userId: string, id: string): Promise<void> {
  await requireOwner(store, id, userId)
  await store.outbox.transaction(async (c, emit) => {
    const m = await c.query<{ user_id: string }>('SELECT user_id FROM chat.members WHERE conversation_id = $1 FOR UPDATE', [id])
    const d = await c.query('DELETE FROM chat.conversations WHERE id = $1 AND owner_id = $2', [id, userId])
    if (d.rowCount === 0) throw notMember()
    emitMembershipChange(
      emit,
      m.rows.map((x) => x.user_id),
      { type: 'conversation.deleted', at: now(), conversationId: id }
    )
  })
  store.cache?.invalidate(id)
}

/** The caller's own notification level for a conversation; their other sessions hear it. */
export async function setNotifyLevel(store: ChatStore, userId: string, id: string, notifyLevel: NotifyLevel): Promise<void> {
  await store.outbox.transaction(async (c, emit) => {
    const r = await c.query('UPDATE chat.members SET notify_level = $3 WHERE conversation_id = $1 AND user_id = $2', [id, userId, notifyLevel])
    if (r.rowCount === 0) throw notMember()
    emitToMembers(emit, [userId], { type: 'conversation.notify', at: now(), conversationId: id, notifyLevel })
  })
}

import { and, eq, or } from 'drizzle-orm'
import type { NatsConnection } from '@nats-io/transport-node'
import { ChatMembersGet } from '@palisade/contracts'
import { natsRequest, ProblemError, problems, type CallContext, type Database } from '@palisade/platform'
import { agents } from './schema.js'
import type { AgentRow } from './store.js'

/**
 * The members of a conversation, asked of chat as the caller: chat answers only to members, so a
 * conversation the caller is not in is "not found" like one that does not exist.
 */
export async function membersAsCaller(nats: NatsConnection, conversationId: string, call: CallContext): Promise<string[]> {
  try {
    return (await natsRequest(nats, ChatMembersGet, { conversationId }, call)).memberIds
  } catch (err) {
    if (err instanceof ProblemError && (err.statusCode === 404 || err.statusCode === 403)) throw problems.notFound('Conversation not found')
    throw err
  }
}

/**
 * An agent `userId` may run in `conversationId`: their own, or one shared with that conversation
 * whose owner is still a member (`memberIds`, read as the caller). A sharing whose owner has left
 * ends here too, for the case chat's event was lost. Anything else is "not found".
 */
export async function runnableAgent(db: Database, id: string, userId: string, conversationId: string, memberIds: readonly string[]): Promise<AgentRow> {
  const [row] = await db
    .select()
    .from(agents)
    .where(and(eq(agents.id, id), or(eq(agents.ownerId, userId), eq(agents.sharedConversationId, conversationId))))
  if (!row) throw problems.notFound('Agent not found')
  if (row.ownerId !== userId && !memberIds.includes(row.ownerId)) {
    await endSharing(db, { agentId: row.id, conversationId })
    throw problems.notFound('Agent not found')
  }
  return row
}

/**
 * Ends sharings with a conversation: of one agent, of every agent of an owner who left it, or of
 * every agent when the conversation is gone. Returns the agents that were shared.
 */
export async function endSharing(
  db: Database,
  which: { conversationId: string; agentId?: string; ownerId?: string }
): Promise<{ id: string; ownerId: string }[]> {
  return db
    .update(agents)
    .set({ sharedConversationId: null, updatedAt: new Date() })
    .where(
      and(
        eq(agents.sharedConversationId, which.conversationId),
        which.agentId ? eq(agents.id, which.agentId) : undefined,
        which.ownerId ? eq(agents.ownerId, which.ownerId) : undefined
      )
    )
    .returning({ id: agents.id, ownerId: agents.ownerId })
}

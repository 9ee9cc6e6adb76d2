import type { FastifyInstance } from 'fastify'
import type { Subscription } from '@nats-io/transport-node'
import {
  ChatAccessCheck,
  ChatAgentMessageCreate,
  ChatHistoryGet,
  ChatMembersGet,
  ChatMessageCreate,
  ChatSearch,
  CHAT_LIMITS,
  ErrorCode
} from '@palisade/contracts'
import { natsServe, ProblemError, type CallContext } from '@palisade/platform'
import type { ChatStore } from '../store/context.js'
import { memberIdsFor, roleOf } from '../store/members.js'
import { listMessages, sendMessage } from '../store/messages.js'
import { search } from '../store/search.js'
import { serveInteractionsNats } from './interactions.js'

/**
 * Who a NATS request acts for: the `Palisade-Acting-User` header the calling service set from a
 * verified identity — never a payload field. A session revoked moments ago is refused too.
 */
function actingUser(app: FastifyInstance, ctx: CallContext): string {
  if (!ctx.userId || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(ctx.userId)) {
    throw new ProblemError(401, ErrorCode.unauthenticated, 'acting user header missing')
  }
  if (ctx.sessionId && app.identityRevocations.has(ctx.sessionId)) throw new ProblemError(401, ErrorCode.sessionRevoked, 'Session revoked')
  return ctx.userId
}

/** The chat service's NATS API (contracts: CHAT_NATS_ENDPOINTS). */
export function serveChatNats(app: FastifyInstance, store: ChatStore): Subscription[] {
  const nc = app.nats
  const log = app.log
  return [
    natsServe(
      nc,
      ChatAccessCheck,
      async ({ userId, conversationId }) => {
        const role = await roleOf(store, conversationId, userId)
        return { member: role !== null, role }
      },
      { log }
    ),
    natsServe(nc, ChatMembersGet, async ({ conversationId }, ctx) => ({ memberIds: await memberIdsFor(store, conversationId, actingUser(app, ctx)) }), { log }),
    natsServe(
      nc,
      ChatMessageCreate,
      async ({ conversationId, ...input }, ctx) => sendMessage(store, actingUser(app, ctx), conversationId, input, { kind: 'user' }, ctx),
      { log }
    ),
    natsServe(
      nc,
      ChatAgentMessageCreate,
      async ({ conversationId, agentRunId, ...input }, ctx) =>
        sendMessage(store, actingUser(app, ctx), conversationId, input, { kind: 'agent', agentRunId }, ctx),
      { log }
    ),
    natsServe(
      nc,
      ChatHistoryGet,
      async ({ conversationId, before, limit }, ctx) => listMessages(store, actingUser(app, ctx), conversationId, before, limit ?? CHAT_LIMITS.natsPageMax),
      { log }
    ),
    natsServe(
      nc,
      ChatSearch,
      async ({ q, conversationId, cursor, limit }, ctx) => search(store, actingUser(app, ctx), q, conversationId, cursor, limit ?? CHAT_LIMITS.natsPageMax),
      { log }
    ),
    ...serveInteractionsNats(app, store, (ctx) => actingUser(app, ctx))
  ]
}

import type { FastifyInstance } from 'fastify'
import type { Subscription } from '@nats-io/transport-node'
import {
  ChatAccessCheck,
  ChatConversationLeave,
  ChatConversationTransfer,
  ChatConversationUpdate,
  ChatNotifySet,
  ChatPresenceGet,
  ChatPresenceReport,
  GatewayInstanceAlive,
  ChatAgentMessageCreate,
  ChatHistoryGet,
  ChatMembersGet,
  ChatMessageCreate,
  ChatSearch,
  CHAT_LIMITS,
  ErrorCode
} from '@palisade/contracts'
import { natsServe, natsSubscribe, ProblemError, type CallContext } from '@palisade/platform'
import type { ChatStore } from '../store/context.js'
import { memberIdsFor, roleOf } from '../store/members.js'
import { listMessages, sendAgentMessage, sendMessage } from '../store/messages.js'
import { search } from '../store/search.js'
import { leaveConversation, setNotifyLevel, transferOwnership, updateConversation } from '../store/conversation-admin.js'
import { conversationPresence, instanceHeartbeat, reportPresence } from '../store/presence.js'
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
    natsServe(nc, ChatMessageCreate, async ({ conversationId, ...input }, ctx) => sendMessage(store, actingUser(app, ctx), conversationId, input, ctx), {
      log
    }),
    natsServe(
      nc,
      ChatAgentMessageCreate,
      async ({ conversationId, agentRunId, audience, ...input }, ctx) =>
        sendAgentMessage(store, actingUser(app, ctx), conversationId, input, agentRunId, audience, ctx),
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
    natsServe(
      nc,
      ChatConversationUpdate,
      async ({ conversationId, ...change }, ctx) => updateConversation(store, actingUser(app, ctx), conversationId, change),
      {
        log
      }
    ),
    natsServe(nc, ChatConversationTransfer, async ({ conversationId, userId }, ctx) => transferOwnership(store, actingUser(app, ctx), conversationId, userId), {
      log
    }),
    natsServe(nc, ChatConversationLeave, async ({ conversationId }, ctx) => leaveConversation(store, actingUser(app, ctx), conversationId), { log }),
    natsServe(
      nc,
      ChatNotifySet,
      async ({ conversationId, notifyLevel }, ctx) => {
        await setNotifyLevel(store, actingUser(app, ctx), conversationId, notifyLevel)
        return {}
      },
      { log }
    ),
    natsServe(nc, ChatPresenceGet, async ({ conversationId }, ctx) => conversationPresence(store, actingUser(app, ctx), conversationId), { log }),
    natsServe(
      nc,
      ChatPresenceReport,
      async (report, ctx) => {
        await reportPresence(store, actingUser(app, ctx), report)
        return {}
      },
      { log }
    ),
    // One chat instance records each announcement (queue group).
    natsSubscribe(nc, GatewayInstanceAlive, (ev) => instanceHeartbeat(store, ev.instanceId, ev.ttlMs), { log, queue: 'chat' }),
    ...serveInteractionsNats(app, store, (ctx) => actingUser(app, ctx))
  ]
}

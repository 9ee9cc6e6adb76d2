import type { FastifyInstance } from 'fastify'
import type { Subscription } from '@nats-io/transport-node'
import { ChatMentionCounts, ChatReactionSet, ChatThreadGet } from '@palisade/contracts'
import { natsServe, type CallContext } from '@palisade/platform'
import type { ChatStore } from '../store/context.js'
import { mentionCounts } from '../store/mentions.js'
import { setReaction } from '../store/reactions.js'
import { listThread } from '../store/threads.js'

/** Threads, reactions and mentions over NATS, with the HTTP routes' rules, as the acting user. */
export function serveInteractionsNats(app: FastifyInstance, store: ChatStore, actingUser: (ctx: CallContext) => string): Subscription[] {
  const nc = app.nats
  const log = app.log
  return [
    natsServe(
      nc,
      ChatThreadGet,
      async ({ conversationId, messageId, after, limit }, ctx) => listThread(store, actingUser(ctx), conversationId, messageId, after, limit ?? 25),
      { log }
    ),
    natsServe(
      nc,
      ChatReactionSet,
      async ({ conversationId, messageId, emoji, reacted }, ctx) => setReaction(store, actingUser(ctx), conversationId, messageId, emoji, reacted),
      { log }
    ),
    natsServe(nc, ChatMentionCounts, async (_req, ctx) => mentionCounts(store, actingUser(ctx)), { log })
  ]
}

import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { completeConfig, platformPlugin } from '@palisade/platform'
import { ChatConfigSchema, type ChatAppConfig } from './config.js'
import { createChatStore } from './store/context.js'
import { presenceAnnouncerPlugin } from './plugins/presence-announcer.js'
import { conversationRoutes } from './routes/conversations.js'
import { conversationAdminRoutes } from './routes/conversation-admin.js'
import { presenceRoutes } from './routes/presence.js'
import { presenceSweeperPlugin } from './plugins/presence-sweeper.js'
import { messageRoutes } from './routes/messages.js'
import { mentionRoutes } from './routes/mentions.js'
import { reactionRoutes } from './routes/reactions.js'
import { threadRoutes } from './routes/threads.js'
import { searchRoutes } from './routes/search.js'
import { serveChatNats } from './nats/handlers.js'
import { messageCachePlugin } from './plugins/message-cache.js'

export { ChatConfigSchema, type ChatConfig, type ChatAppConfig } from './config.js'

/** drizzle-kit migrations, next to `src/` and `dist/` alike */
export const migrationsFolder = join(dirname(fileURLToPath(import.meta.url)), '..', 'drizzle')

/**
 * The chat service: conversations, members and messages under /api/chat (forward-authed), the
 * NATS API other services call (`chat.*`), and events to `events.user.<memberId>` for every change.
 */
const chatApp: FastifyPluginAsync<{ config: ChatAppConfig }> = async (app, opts) => {
  const config = completeConfig(ChatConfigSchema, opts.config)
  await app.register(platformPlugin, {
    service: 'chat',
    config,
    migrationsFolder,
    outbox: true,
    ...(config.CHAT_RATE_LIMIT_PER_MINUTE ? { rateLimitPerMinute: config.CHAT_RATE_LIMIT_PER_MINUTE } : {})
  })
  await app.register(messageCachePlugin, { databaseUrl: config.DATABASE_URL, maxBytes: config.CHAT_MESSAGE_CACHE_MB * 1024 * 1024 })
  await app.register(presenceAnnouncerPlugin)
  const store = createChatStore(app, { maxMembers: config.CHAT_MAX_MEMBERS })
  const subs = serveChatNats(app, store)
  app.addHook('preClose', async () => {
    for (const s of subs) s.unsubscribe()
  })
  await app.register(conversationRoutes, { prefix: '/api/chat', store })
  await app.register(messageRoutes, { prefix: '/api/chat', store })
  await app.register(searchRoutes, { prefix: '/api/chat', store })
  await app.register(conversationAdminRoutes, { prefix: '/api/chat', store })
  await app.register(presenceRoutes, { prefix: '/api/chat', store })
  await app.register(presenceSweeperPlugin, { store })
  await app.register(threadRoutes, { prefix: '/api/chat', store })
  await app.register(reactionRoutes, { prefix: '/api/chat', store })
  await app.register(mentionRoutes, { prefix: '/api/chat', store })
}

export default fp(chatApp, { name: 'palisade-chat', fastify: '5.x' })

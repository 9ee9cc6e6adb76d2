import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ConversationParamsSchema, PresenceListSchema, PresenceSettingsSchema, ProblemSchema } from '@palisade/contracts'
import { identityOf } from '@palisade/platform'
import type { ChatStore } from '../store/context.js'
import { conversationPresence, presenceHidden, setPresenceHidden } from '../store/presence.js'

const errors = { '4xx': ProblemSchema, '5xx': ProblemSchema }

/** Presence under /api/chat: of a conversation's members (members only), and the caller's own setting. */
export const presenceRoutes: FastifyPluginAsync<{ store: ChatStore }> = async (root, { store }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()

  app.get(
    '/conversations/:id/presence',
    { schema: { params: ConversationParamsSchema, response: { 200: PresenceListSchema, ...errors } } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store')
      return conversationPresence(store, identityOf(request).userId, request.params.id)
    }
  )

  app.get('/presence/settings', { schema: { response: { 200: PresenceSettingsSchema, ...errors } } }, async (request) => ({
    hidden: await presenceHidden(store, identityOf(request).userId)
  }))

  app.put('/presence/settings', { schema: { body: PresenceSettingsSchema, response: { 200: PresenceSettingsSchema, ...errors } } }, async (request) => {
    await setPresenceHidden(store, identityOf(request).userId, request.body.hidden)
    return request.body
  })
}

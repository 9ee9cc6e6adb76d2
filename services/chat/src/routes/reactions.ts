import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { MessageParamsSchema, MessageSchema, ProblemSchema, SetReactionBodySchema } from '@palisade/contracts'
import { identityOf } from '@palisade/platform'
import type { ChatStore } from '../store/context.js'
import { setReaction } from '../store/reactions.js'

const errors = { '4xx': ProblemSchema, '5xx': ProblemSchema }

/** The caller's reactions, under /api/chat/conversations/:id/messages/:messageId/reactions. */
export const reactionRoutes: FastifyPluginAsync<{ store: ChatStore }> = async (root, { store }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()

  app.put(
    '/conversations/:id/messages/:messageId/reactions',
    { schema: { params: MessageParamsSchema, body: SetReactionBodySchema, response: { 200: MessageSchema, ...errors } } },
    async (request) => setReaction(store, identityOf(request).userId, request.params.id, request.params.messageId, request.body.emoji, request.body.reacted)
  )
}

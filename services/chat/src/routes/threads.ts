import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { MessageParamsSchema, ProblemSchema, ThreadPageQuerySchema, ThreadPageSchema } from '@palisade/contracts'
import { identityOf } from '@palisade/platform'
import type { ChatStore } from '../store/context.js'
import { listThread } from '../store/threads.js'

const errors = { '4xx': ProblemSchema, '5xx': ProblemSchema }

/** A message's thread, under /api/chat/conversations/:id/messages/:messageId/replies (replies are sent as messages with `parentId`). */
export const threadRoutes: FastifyPluginAsync<{ store: ChatStore }> = async (root, { store }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()

  app.get(
    '/conversations/:id/messages/:messageId/replies',
    { schema: { params: MessageParamsSchema, querystring: ThreadPageQuerySchema, response: { 200: ThreadPageSchema, ...errors } } },
    async (request) =>
      listThread(store, identityOf(request).userId, request.params.id, request.params.messageId, request.query.after, request.query.limit ?? 50)
  )
}

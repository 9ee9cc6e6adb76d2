import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ProblemSchema, SearchPageSchema, SearchQuerySchema } from '@palisade/contracts'
import { identityOf } from '@palisade/platform'
import type { ChatStore } from '../store/context.js'
import { search } from '../store/search.js'

/** GET /api/chat/search?q=…: full-text search over the caller's conversations. */
export const searchRoutes: FastifyPluginAsync<{ store: ChatStore }> = async (root, { store }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/search',
    { schema: { querystring: SearchQuerySchema, response: { 200: SearchPageSchema, '4xx': ProblemSchema, '5xx': ProblemSchema } } },
    async (request) => {
      const { q, conversationId, cursor, limit } = request.query
      return search(store, identityOf(request).userId, q, conversationId, cursor, limit ?? 20)
    }
  )
}

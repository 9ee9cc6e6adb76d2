import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ConversationParamsSchema, MentionCountsSchema, MentionPolicySchema, ProblemSchema } from '@palisade/contracts'
import { identityOf } from '@palisade/platform'
import type { ChatStore } from '../store/context.js'
import { getMentionPolicy, mentionCounts, setMentionPolicy } from '../store/mentions.js'

const errors = { '4xx': ProblemSchema, '5xx': ProblemSchema }

/** Unread mention counts (/api/chat/mentions) and each conversation's mention policy. */
export const mentionRoutes: FastifyPluginAsync<{ store: ChatStore }> = async (root, { store }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()

  app.get('/mentions', { schema: { response: { 200: MentionCountsSchema, ...errors } } }, async (request) => mentionCounts(store, identityOf(request).userId))

  app.get(
    '/conversations/:id/mention-policy',
    { schema: { params: ConversationParamsSchema, response: { 200: MentionPolicySchema, ...errors } } },
    async (request) => getMentionPolicy(store, identityOf(request).userId, request.params.id)
  )

  app.put(
    '/conversations/:id/mention-policy',
    { schema: { params: ConversationParamsSchema, body: MentionPolicySchema, response: { 200: MentionPolicySchema, ...errors } } },
    async (request) => setMentionPolicy(store, identityOf(request).userId, request.params.id, request.body)
  )
}

import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import {
  AddMemberBodySchema,
  ConversationPageQuerySchema,
  ConversationPageSchema,
  ConversationParamsSchema,
  ConversationSchema,
  ConversationWithUnreadSchema,
  CreateConversationBodySchema,
  MarkReadBodySchema,
  MemberPageQuerySchema,
  MemberPageSchema,
  MemberParamsSchema,
  MemberSchema,
  ProblemSchema
} from '@palisade/contracts'
import { callContextOf, identityOf } from '@palisade/platform'
import type { ChatStore } from '../store/context.js'
import { createConversation, getConversation, listConversations } from '../store/conversations.js'
import { addMember, listMembers, removeMember } from '../store/members.js'
import { markRead } from '../store/read-markers.js'

const errors = { '4xx': ProblemSchema, '5xx': ProblemSchema }
const noContent = { 204: Type.Null(), ...errors }

/** Conversations and their members, under /api/chat/conversations (managing one: conversation-admin.ts). */
export const conversationRoutes: FastifyPluginAsync<{ store: ChatStore }> = async (root, { store }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()

  app.post('/conversations', { schema: { body: CreateConversationBodySchema, response: { 201: ConversationSchema, ...errors } } }, async (request, reply) => {
    const conversation = await createConversation(store, identityOf(request).userId, request.body, callContextOf(request))
    return reply.code(201).send(conversation)
  })

  app.get('/conversations', { schema: { querystring: ConversationPageQuerySchema, response: { 200: ConversationPageSchema, ...errors } } }, async (request) =>
    listConversations(store, identityOf(request).userId, request.query.cursor, request.query.limit ?? 50, request.query.archived ?? false)
  )

  app.get('/conversations/:id', { schema: { params: ConversationParamsSchema, response: { 200: ConversationWithUnreadSchema, ...errors } } }, async (request) =>
    getConversation(store, identityOf(request).userId, request.params.id)
  )

  /** Read up to and including a message: only forward, members only (404 like everywhere), 204. */
  app.post(
    '/conversations/:id/read',
    { schema: { params: ConversationParamsSchema, body: MarkReadBodySchema, response: noContent } },
    async (request, reply) => {
      await markRead(store, identityOf(request).userId, request.params.id, request.body.messageId)
      return reply.code(204).send(null)
    }
  )

  app.get(
    '/conversations/:id/members',
    { schema: { params: ConversationParamsSchema, querystring: MemberPageQuerySchema, response: { 200: MemberPageSchema, ...errors } } },
    async (request) => listMembers(store, identityOf(request).userId, request.params.id, request.query.cursor, request.query.limit ?? 50)
  )

  app.post(
    '/conversations/:id/members',
    { schema: { params: ConversationParamsSchema, body: AddMemberBodySchema, response: { 200: MemberSchema, 201: MemberSchema, ...errors } } },
    async (request, reply) => {
      const { member, created } = await addMember(store, identityOf(request).userId, request.params.id, request.body.userId, callContextOf(request))
      return reply.code(created ? 201 : 200).send(member)
    }
  )

  /** The owner removes a member; a member removes themselves to leave. */
  app.delete('/conversations/:id/members/:userId', { schema: { params: MemberParamsSchema, response: noContent } }, async (request, reply) => {
    await removeMember(store, identityOf(request).userId, request.params.id, request.params.userId)
    return reply.code(204).send(null)
  })
}

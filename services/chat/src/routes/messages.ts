import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import {
  ConversationParamsSchema,
  EditMessageBodySchema,
  MessagePageQuerySchema,
  MessagePageSchema,
  MessageParamsSchema,
  MessageSchema,
  ProblemSchema,
  SendMessageBodySchema
} from '@palisade/contracts'
import { callContextOf, identityOf } from '@palisade/platform'
import type { ChatStore } from '../store/context.js'
import { deleteMessage, editMessage, listMessagesJson, sendMessage } from '../store/messages.js'

const errors = { '4xx': ProblemSchema, '5xx': ProblemSchema }
const noContent = { 204: Type.Null(), ...errors }
/** A MessagePage sent as JSON text already built by PostgreSQL or the cache (Fastify sends JSON strings and Buffers as they are). */
const MessagePageJsonSchema = Type.Unsafe<string | Buffer>(MessagePageSchema)

/** Messages of a conversation, under /api/chat/conversations/:id/messages. */
export const messageRoutes: FastifyPluginAsync<{ store: ChatStore }> = async (root, { store }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()

  /** 201 with the new message; 200 with the existing one when the clientMessageId was already used. */
  app.post(
    '/conversations/:id/messages',
    { schema: { params: ConversationParamsSchema, body: SendMessageBodySchema, response: { 200: MessageSchema, 201: MessageSchema, ...errors } } },
    async (request, reply) => {
      const { message, created } = await sendMessage(store, identityOf(request).userId, request.params.id, request.body, callContextOf(request))
      return reply.code(created ? 201 : 200).send(message)
    }
  )

  app.get(
    '/conversations/:id/messages',
    { schema: { params: ConversationParamsSchema, querystring: MessagePageQuerySchema, response: { 200: MessagePageJsonSchema, ...errors } } },
    async (request, reply) => {
      const body = await listMessagesJson(store, identityOf(request).userId, request.params.id, request.query.before, request.query.limit ?? 50)
      return reply.type('application/json; charset=utf-8').send(body)
    }
  )

  app.patch(
    '/conversations/:id/messages/:messageId',
    { schema: { params: MessageParamsSchema, body: EditMessageBodySchema, response: { 200: MessageSchema, ...errors } } },
    async (request) => editMessage(store, identityOf(request).userId, request.params.id, request.params.messageId, request.body.text)
  )

  app.delete('/conversations/:id/messages/:messageId', { schema: { params: MessageParamsSchema, response: noContent } }, async (request, reply) => {
    await deleteMessage(store, identityOf(request).userId, request.params.id, request.params.messageId)
    return reply.code(204).send(null)
  })
}

import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import {
  ConversationParamsSchema,
  ConversationSchema,
  LeaveResultSchema,
  NotifySettingsSchema,
  ProblemSchema,
  TransferOwnershipBodySchema,
  UpdateConversationBodySchema
} from '@palisade/contracts'
import { identityOf } from '@palisade/platform'
import type { ChatStore } from '../store/context.js'
import { deleteConversation, leaveConversation, setNotifyLevel, transferOwnership, updateConversation } from '../store/conversation-admin.js'

const errors = { '4xx': ProblemSchema, '5xx': ProblemSchema }
const noContent = { 204: Type.Null(), ...errors }
const one = { params: ConversationParamsSchema, response: { 200: ConversationSchema, ...errors } }

/**
 * Managing a conversation under /api/chat/conversations/:id: rename and topic, archive and restore,
 * transfer, delete (owner only), leave and the caller's notification level (any member).
 */
export const conversationAdminRoutes: FastifyPluginAsync<{ store: ChatStore }> = async (root, { store }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()

  app.patch('/conversations/:id', { schema: { ...one, body: UpdateConversationBodySchema } }, async (request) =>
    updateConversation(store, identityOf(request).userId, request.params.id, request.body)
  )

  app.put('/conversations/:id/archive', { schema: one }, async (request) =>
    updateConversation(store, identityOf(request).userId, request.params.id, { archived: true })
  )

  app.delete('/conversations/:id/archive', { schema: one }, async (request) =>
    updateConversation(store, identityOf(request).userId, request.params.id, { archived: false })
  )

  app.post('/conversations/:id/transfer', { schema: { ...one, body: TransferOwnershipBodySchema } }, async (request) =>
    transferOwnership(store, identityOf(request).userId, request.params.id, request.body.userId)
  )

  app.post('/conversations/:id/leave', { schema: { params: ConversationParamsSchema, response: { 200: LeaveResultSchema, ...errors } } }, async (request) =>
    leaveConversation(store, identityOf(request).userId, request.params.id)
  )

  app.put(
    '/conversations/:id/notifications',
    { schema: { params: ConversationParamsSchema, body: NotifySettingsSchema, response: { 200: NotifySettingsSchema, ...errors } } },
    async (request) => {
      await setNotifyLevel(store, identityOf(request).userId, request.params.id, request.body.notifyLevel)
      return request.body
    }
  )

  app.delete('/conversations/:id', { schema: { params: ConversationParamsSchema, response: noContent } }, async (request, reply) => {
    await deleteConversation(store, identityOf(request).userId, request.params.id)
    return reply.code(204).send(null)
  })
}

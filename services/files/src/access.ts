import type { FastifyInstance } from 'fastify'
import { ChatAccessCheck, ErrorCode } from '@palisade/contracts'
import { natsRequest, ProblemError, type CallContext } from '@palisade/platform'
import type { FileRow } from './db/schema.js'

type NatsConnection = FastifyInstance['nats']

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The acting user of a call, which must be a well-formed user id (NATS callers set it in a header). */
export function actingUser(ctx: CallContext): string {
  const id = ctx.userId?.toLowerCase()
  if (!id || !UUID.test(id)) throw new ProblemError(401, ErrorCode.unauthenticated, 'Acting user required')
  return id
}

/** Asks chat whether `userId` is a member of `conversationId`. Chat unreachable → 503 (fail closed). */
export async function isMember(nc: NatsConnection, userId: string, conversationId: string, ctx: CallContext): Promise<boolean> {
  const res = await natsRequest(nc, ChatAccessCheck, { userId, conversationId }, ctx)
  return res.member
}

/**
 * The one access rule: the owner, or a member of the conversation the file is shared with. Anyone
 * else must not learn the file exists, so callers answer 404 for `false`.
 */
export async function canRead(nc: NatsConnection, row: FileRow, userId: string, ctx: CallContext): Promise<boolean> {
  if (row.ownerId === userId) return true
  if (!row.conversationId) return false
  return isMember(nc, userId, row.conversationId, ctx)
}

import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { ChatMembersGet } from '@palisade/contracts'
import { natsRequest } from '@palisade/platform'
import type { FileRow } from '../db/schema.js'

/**
 * Who hears that a file's scan finished: the uploader, and for a shared file the conversation's
 * current members (asked from chat, acting as the uploader: if they have left, only they hear it).
 * Asked before the verdict's transaction, which then writes the event to the outbox; the gateway
 * relays `events.user.<id>` to open sockets: no client polls.
 */
export function scanAudience(nc: FastifyInstance['nats'], log: FastifyBaseLogger) {
  return async (row: FileRow): Promise<Set<string>> => {
    const recipients = new Set([row.ownerId])
    if (row.conversationId) {
      try {
        const { memberIds } = await natsRequest(nc, ChatMembersGet, { conversationId: row.conversationId }, { userId: row.ownerId })
        for (const id of memberIds) recipients.add(id)
      } catch (err) {
        // 404: the uploader is no longer a member (or the conversation is gone); chat down: uploader only.
        log.info({ fileId: row.id, err: (err as Error).message }, 'scan event goes to the uploader only')
      }
    }
    return recipients
  }
}

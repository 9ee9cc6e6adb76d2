import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { ChatMembersGet, UserEvents, userEventsSubject, type FileScannedEvent } from '@palisade/contracts'
import { natsPublish, natsRequest } from '@palisade/platform'
import type { FileRow } from '../db/schema.js'

/**
 * Tells the uploader, and for a shared file the conversation's current members (asked from chat,
 * acting as the uploader: if they have left, only they hear it), that the scan finished. Sent
 * through `events.user.<id>`, which the gateway relays to open sockets: no client polls.
 */
export function scanNotifier(nc: FastifyInstance['nats'], log: FastifyBaseLogger) {
  return async (row: FileRow, status: 'clean' | 'infected'): Promise<void> => {
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
    const event: FileScannedEvent = { type: 'file.scanned', at: new Date().toISOString(), fileId: row.id, conversationId: row.conversationId, status }
    for (const userId of recipients) natsPublish(nc, UserEvents, event, userEventsSubject(userId))
  }
}

import type { FastifyInstance } from 'fastify'
import { userEventsSubject, type ChatEvent } from '@palisade/contracts'
import { encodePayload } from '@palisade/platform'

/**
 * Publishes one event to `events.user.<id>` of every given member. The payload is encoded once
 * however many members there are (a conversation may have thousands). Published after the change
 * is committed: a member never hears about a change that was rolled back.
 */
export function publishToMembers(nc: FastifyInstance['nats'], memberIds: Iterable<string>, event: ChatEvent): void {
  const data = encodePayload(event)
  for (const id of memberIds) nc.publish(userEventsSubject(id), data)
}

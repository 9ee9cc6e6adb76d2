import type { FastifyInstance } from 'fastify'
import { ChatMembershipChanged, userEventsSubject, type ChatEvent, type MembershipChangedEvent } from '@palisade/contracts'
import { encodePayload, natsPublish } from '@palisade/platform'

/**
 * Publishes one event to `events.user.<id>` of every given member. The payload is encoded once
 * however many members there are (a conversation may have thousands). Published after the change
 * is committed: a member never hears about a change that was rolled back.
 */
export function publishToMembers(nc: FastifyInstance['nats'], memberIds: Iterable<string>, event: ChatEvent): void {
  const data = encodePayload(event)
  for (const id of memberIds) nc.publish(userEventsSubject(id), data)
}

/**
 * A member left or the conversation is gone: told to the services acting in front of its members
 * (agents stop streaming a run to them) before the members hear it, so that by the time a removed
 * member's socket shows the removal, the stream to them has (almost always) already stopped.
 */
export function publishMembershipChange(nc: FastifyInstance['nats'], memberIds: Iterable<string>, event: MembershipChangedEvent): void {
  natsPublish(nc, ChatMembershipChanged, event)
  publishToMembers(nc, memberIds, event)
}

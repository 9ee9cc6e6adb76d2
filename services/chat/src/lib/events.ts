import { ChatMembershipChanged, userEventsSubject, type ChatEvent, type MembershipChangedEvent } from '@palisade/contracts'
import type { Emit } from '@palisade/platform'

/**
 * Adds one event for `events.user.<id>` of every given member to the transaction's outbox. The
 * payload is encoded once however many members there are (a conversation may have thousands). The
 * relay publishes it after the commit: a member never hears about a change that was rolled back,
 * and a crash after the commit loses nothing.
 */
export function emitToMembers(emit: Emit, memberIds: Iterable<string>, event: ChatEvent): void {
  emit([...memberIds].map(userEventsSubject), event)
}

/**
 * A member left or the conversation is gone: told to the services acting in front of its members
 * (agents stop streaming a run to them) before the members hear it — the relay publishes outbox
 * rows in order — so that by the time a removed member's socket shows the removal, the stream to
 * them has (almost always) already stopped.
 */
export function emitMembershipChange(emit: Emit, memberIds: Iterable<string>, event: MembershipChangedEvent): void {
  emit([ChatMembershipChanged.subject], event)
  emitToMembers(emit, memberIds, event)
}

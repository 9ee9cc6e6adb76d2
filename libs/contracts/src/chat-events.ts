// Chat's events, and the union of every event relayed to a user's sockets.
import { Type, type Static } from 'typebox'
import { IsoDateSchema, UuidSchema } from './common.js'
import type { NatsEvent } from './nats.js'
import { AgentRunCancelledEventSchema, AgentRunCompletedEventSchema, AgentRunDeltaEventSchema, AgentRunFailedEventSchema } from './agents.js'
import { ConversationSchema, MemberRoleSchema, MessageSchema, NotifyLevelSchema, UnreadCountSchema } from './chat.js'
import { FileScannedEventSchema } from './files.js'
import { MentionCreatedEventSchema } from './mentions.js'
import { PresenceChangedEventSchema } from './presence.js'
import { ThreadRepliedEventSchema } from './threads.js'

// ---------------------------------------------------------------------------------------------
// Events to `events.user.<userId>`: every change is published to each member it concerns. The
// gateway relays them unchanged to that user's sockets, so each one is also a server→client frame;
// it relays only what validates against UserEventSchema.
// ---------------------------------------------------------------------------------------------

const ev = <T extends string>(type: T) => Type.Literal(type)

export const MessageCreatedEventSchema = Type.Object(
  { type: ev('message.created'), at: IsoDateSchema, conversationId: UuidSchema, message: MessageSchema },
  { additionalProperties: false }
)
export const MessageUpdatedEventSchema = Type.Object(
  { type: ev('message.updated'), at: IsoDateSchema, conversationId: UuidSchema, message: MessageSchema },
  { additionalProperties: false }
)
export const MessageDeletedEventSchema = Type.Object(
  { type: ev('message.deleted'), at: IsoDateSchema, conversationId: UuidSchema, messageId: UuidSchema },
  { additionalProperties: false }
)
/** Sent to every member, the new one included (it carries the conversation so their list can show it). */
export const MemberAddedEventSchema = Type.Object(
  { type: ev('member.added'), at: IsoDateSchema, conversationId: UuidSchema, userId: UuidSchema, role: MemberRoleSchema, conversation: ConversationSchema },
  { additionalProperties: false }
)
/** Sent to the remaining members and to the one removed (who then drops the conversation). */
export const MemberRemovedEventSchema = Type.Object(
  { type: ev('member.removed'), at: IsoDateSchema, conversationId: UuidSchema, userId: UuidSchema },
  { additionalProperties: false }
)
export const ConversationCreatedEventSchema = Type.Object(
  { type: ev('conversation.created'), at: IsoDateSchema, conversation: ConversationSchema },
  { additionalProperties: false }
)
export const ConversationUpdatedEventSchema = Type.Object(
  { type: ev('conversation.updated'), at: IsoDateSchema, conversation: ConversationSchema },
  { additionalProperties: false }
)
export const ConversationDeletedEventSchema = Type.Object(
  { type: ev('conversation.deleted'), at: IsoDateSchema, conversationId: UuidSchema },
  { additionalProperties: false }
)
/**
 * The user's read marker moved (`POST /conversations/:id/read` in any of their sessions): sent only to
 * that user, so their other sessions can update the badge. `messageId`: read up to and including it;
 * `unreadCount`: what is left unread after it, as in the conversation list.
 */
export const ConversationReadEventSchema = Type.Object(
  { type: ev('conversation.read'), at: IsoDateSchema, conversationId: UuidSchema, messageId: UuidSchema, unreadCount: UnreadCountSchema },
  { additionalProperties: false }
)
/** The member's notification level changed (in any of their sessions): sent only to that member. */
export const ConversationNotifyChangedEventSchema = Type.Object(
  { type: ev('conversation.notify'), at: IsoDateSchema, conversationId: UuidSchema, notifyLevel: NotifyLevelSchema },
  { additionalProperties: false }
)
/** Published by the gateway to the other members; never stored. */
export const TypingEventSchema = Type.Object(
  { type: ev('typing'), at: IsoDateSchema, conversationId: UuidSchema, userId: UuidSchema },
  { additionalProperties: false }
)

/** The events chat publishes to members (typing comes from the gateway). */
const CHAT_EVENT_SCHEMAS = [
  MessageCreatedEventSchema,
  MessageUpdatedEventSchema,
  MessageDeletedEventSchema,
  MemberAddedEventSchema,
  MemberRemovedEventSchema,
  ConversationCreatedEventSchema,
  ConversationUpdatedEventSchema,
  ConversationDeletedEventSchema,
  ConversationReadEventSchema,
  ConversationNotifyChangedEventSchema,
  // presence.changed (presence.ts)
  PresenceChangedEventSchema,
  MentionCreatedEventSchema,
  ThreadRepliedEventSchema
] as const

export const ChatEventSchema = Type.Union([...CHAT_EVENT_SCHEMAS])
export type ChatEvent = Static<typeof ChatEventSchema>

export const UserEventSchema = Type.Union([
  ...CHAT_EVENT_SCHEMAS,
  TypingEventSchema,
  // agent.run.delta|completed|failed|cancelled, published by the agents service (shapes in agents.ts)
  AgentRunDeltaEventSchema,
  AgentRunCompletedEventSchema,
  AgentRunFailedEventSchema,
  AgentRunCancelledEventSchema,
  // file.scanned, published by the files service (files.ts)
  FileScannedEventSchema
])
export type UserEvent = Static<typeof UserEventSchema>
export type TypingEvent = Static<typeof TypingEventSchema>
export type ConversationReadEvent = Static<typeof ConversationReadEventSchema>

/** `events.user.<userId>`: what one user's sockets receive. */
export const UserEvents: NatsEvent<typeof UserEventSchema> = {
  subject: 'events.user.*',
  payload: UserEventSchema,
  publishers: ['chat', 'gateway', 'agents', 'files'],
  subscribers: ['gateway']
}
export const userEventsSubject = (userId: string): string => `events.user.${userId}`

/**
 * A conversation gained or lost a member or was deleted, for the services that act in front of its
 * members (agents: a run's stream goes only to current members, and a run stops when a newcomer may
 * not read what it has read; files: a deleted conversation's files are soft-deleted). Published by
 * chat after the commit, before the same change goes to the members themselves; every instance of a
 * subscriber hears it.
 */
export const MembershipChangedEventSchema = Type.Union([MemberAddedEventSchema, MemberRemovedEventSchema, ConversationDeletedEventSchema])
export type MembershipChangedEvent = Static<typeof MembershipChangedEventSchema>
export const ChatMembershipChanged: NatsEvent<typeof MembershipChangedEventSchema> = {
  subject: 'chat.membership.changed',
  payload: MembershipChangedEventSchema,
  publishers: ['chat'],
  subscribers: ['agents', 'files']
}

// Presence: who is online, away or offline (with last seen). Chat owns it (it knows who shares a
// conversation with whom); gateway instances report the sockets and activity of their users.
// Imports nothing from chat.ts: chat.ts puts the presence event into the user event union.
import { Type, type Static } from 'typebox'
import { EmptyObjectSchema, IsoDateSchema, UuidSchema } from './common.js'
import type { NatsEndpoint, NatsEvent } from './nats.js'

export const PRESENCE_LIMITS = {
  /** no reported activity for this long: `away` (chat's sweep announces it within about 15 s) */
  awayAfterMs: 5 * 60_000,
  /** clients report activity at most this often; gateways forward it to chat at most this often per user */
  activityIntervalMs: 60_000,
  /** a gateway instance heard of within this long is alive; the sockets it reported count */
  instanceTtlMs: 90_000,
  /** gateway instances announce themselves this often */
  instanceHeartbeatMs: 30_000,
  /** at most this many users per presence answer (a conversation's members) */
  usersMax: 5000,
  /** changes within this long are announced together, one event per recipient */
  announceWindowMs: 250,
  /** at most this many users' changes in one presence.changed event (more go in several) */
  changesPerEventMax: 500
} as const

export const PresenceStatusSchema = Type.Union([Type.Literal('online'), Type.Literal('away'), Type.Literal('offline')])
export type PresenceStatus = Static<typeof PresenceStatusSchema>

/**
 * One user's presence as another user may see it. `lastActiveAt`: latest activity chat knew of
 * (online or away; an event carries it as of the change: events are sent on changes of status
 * only); `lastSeenAt`: when the last socket closed, for `offline`. Hidden presence, and every user who
 * shares no conversation with the asker, reads `offline` with both null.
 */
export const PresenceSchema = Type.Object(
  {
    userId: UuidSchema,
    status: PresenceStatusSchema,
    lastActiveAt: Type.Union([IsoDateSchema, Type.Null()]),
    lastSeenAt: Type.Union([IsoDateSchema, Type.Null()])
  },
  { additionalProperties: false }
)
export type Presence = Static<typeof PresenceSchema>

/** `GET /api/chat/conversations/:id/presence`: every member's presence (members only, 404 otherwise). */
export const PresenceListSchema = Type.Object({ items: Type.Array(PresenceSchema, { maxItems: PRESENCE_LIMITS.usersMax }) }, { additionalProperties: false })
export type PresenceList = Static<typeof PresenceListSchema>

/** `GET|PUT /api/chat/presence/settings`: the caller's own choice; `hidden` shows them offline to all. */
export const PresenceSettingsSchema = Type.Object({ hidden: Type.Boolean() }, { additionalProperties: false })
export type PresenceSettings = Static<typeof PresenceSettingsSchema>

/**
 * To `events.user.<id>` of everyone sharing a conversation with users whose presence changed. Chat
 * gathers the changes of a short window (PRESENCE_LIMITS.announceWindowMs) into one event per
 * recipient: when many people come online together (the morning, a gateway restart's reconnect
 * wave) each peer gets a few events, not one per person.
 */
export const PresenceChangedEventSchema = Type.Object(
  {
    type: Type.Literal('presence.changed'),
    at: IsoDateSchema,
    presences: Type.Array(PresenceSchema, { minItems: 1, maxItems: PRESENCE_LIMITS.changesPerEventMax })
  },
  { additionalProperties: false }
)
export type PresenceChangedEvent = Static<typeof PresenceChangedEventSchema>

// ---------------------------------------------------------------------------------------------
// NATS
// ---------------------------------------------------------------------------------------------

/**
 * A gateway instance's sockets of the acting user changed, or the user was active: `sockets` is how
 * many that instance holds now (0 = the last one closed there), `active` whether this report is
 * about user activity (opening a socket counts). Chat adds up all live instances.
 */
export const ChatPresenceReportRequestSchema = Type.Object(
  { instanceId: UuidSchema, sockets: Type.Integer({ minimum: 0, maximum: 100_000 }), active: Type.Boolean() },
  { additionalProperties: false }
)
export type ChatPresenceReportRequest = Static<typeof ChatPresenceReportRequestSchema>
export const ChatPresenceReport: NatsEndpoint<typeof ChatPresenceReportRequestSchema, typeof EmptyObjectSchema> = {
  subject: 'chat.presence.report',
  request: ChatPresenceReportRequestSchema,
  response: EmptyObjectSchema,
  owner: 'chat',
  callers: ['gateway']
}

export const ChatPresenceGetRequestSchema = Type.Object({ conversationId: UuidSchema }, { additionalProperties: false })
/** Presence of the members of a conversation the acting user belongs to (404 otherwise). */
export const ChatPresenceGet: NatsEndpoint<typeof ChatPresenceGetRequestSchema, typeof PresenceListSchema> = {
  subject: 'chat.presence.get',
  request: ChatPresenceGetRequestSchema,
  response: PresenceListSchema,
  owner: 'chat',
  callers: ['agents']
}

/**
 * A gateway instance is alive (`ttlMs` > 0: its reports hold for that long) or shutting down
 * (`ttlMs` = 0: its sockets are gone at once). An instance that stops announcing itself (crash)
 * is dropped by chat after its ttl, and its users go offline unless another instance holds them.
 */
export const GatewayInstanceHeartbeatSchema = Type.Object(
  { instanceId: UuidSchema, ttlMs: Type.Integer({ minimum: 0, maximum: 600_000 }) },
  { additionalProperties: false }
)
export type GatewayInstanceHeartbeat = Static<typeof GatewayInstanceHeartbeatSchema>
export const GatewayInstanceAlive: NatsEvent<typeof GatewayInstanceHeartbeatSchema> = {
  subject: 'gateway.instance.heartbeat',
  payload: GatewayInstanceHeartbeatSchema,
  publishers: ['gateway'],
  subscribers: ['chat']
}

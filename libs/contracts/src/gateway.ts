import { Type, type Static } from 'typebox'
import { IsoDateSchema, UuidSchema } from './common.js'
import { MessageSchema, NewMessageProperties } from './chat.js'
import { UserEventSchema } from './chat-events.js'
import type { NatsEvent } from './nats.js'

/**
 * WebSocket protocol of the gateway (`/ws`). Every frame is one JSON text message. The client may
 * give any frame an `id`; replies about that frame (`pong`, `ack`, `error`) carry it as `ref`.
 *
 * Close codes (see GATEWAY_CLOSE in gateway-close.ts):
 *   1000 normal · 1001 gateway shutting down (reconnect after a short delay) · 1008 policy violation
 *   (sustained rate-limit abuse, disallowed origin) · 1009 frame larger than the limit · 1011 internal
 *   error · 1013 slow consumer (the client did not read fast enough; reconnect and resync over HTTP)
 *   4000 maximum lifetime reached: reconnect now (the handshake re-authenticates)
 *   4001 session revoked (logout, password change, session deleted): do not reconnect with it
 *   4002 identity expired: the lease given at the handshake (or by the last renewal) ran out;
 *        refresh the access token, then reconnect
 *   4003 too many connections for this user or address
 */
export { GATEWAY_CLOSE, type GatewayCloseCode } from './gateway-close.js'

export const FrameIdSchema = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' })

// ---------------------------------------------------------------------------------------------
// Client → server
// ---------------------------------------------------------------------------------------------

export const MessageSendFrameSchema = Type.Object(
  {
    type: Type.Literal('message.send'),
    id: Type.Optional(FrameIdSchema),
    conversationId: UuidSchema,
    ...NewMessageProperties
  },
  { additionalProperties: false }
)
export const TypingFrameSchema = Type.Object(
  { type: Type.Literal('typing'), id: Type.Optional(FrameIdSchema), conversationId: UuidSchema },
  { additionalProperties: false }
)
export const PingFrameSchema = Type.Object({ type: Type.Literal('ping'), id: Type.Optional(FrameIdSchema) }, { additionalProperties: false })
/**
 * The user did something in this tab (typed, clicked, focused it): keeps their presence `online`
 * rather than `away`. Clients send it at most once per PRESENCE_LIMITS.activityIntervalMs; the
 * gateway forwards at most that often per user.
 */
export const ActivityFrameSchema = Type.Object({ type: Type.Literal('activity'), id: Type.Optional(FrameIdSchema) }, { additionalProperties: false })

export const ClientFrameSchema = Type.Union([MessageSendFrameSchema, TypingFrameSchema, PingFrameSchema, ActivityFrameSchema])
export type ClientFrame = Static<typeof ClientFrameSchema>
export const CLIENT_FRAME_SCHEMAS = {
  'message.send': MessageSendFrameSchema,
  typing: TypingFrameSchema,
  ping: PingFrameSchema,
  activity: ActivityFrameSchema
} as const

// ---------------------------------------------------------------------------------------------
// Server → client: the user's events (UserEventSchema, relayed unchanged) plus these
// ---------------------------------------------------------------------------------------------

/**
 * First frame on every socket; every event published after the gateway sent it reaches the socket.
 * `expiresAt`: when the socket closes with 4002 unless renewed.
 */
export const HelloFrameSchema = Type.Object(
  {
    type: Type.Literal('hello'),
    socketId: UuidSchema,
    userId: UuidSchema,
    sessionId: UuidSchema,
    expiresAt: IsoDateSchema,
    heartbeatMs: Type.Integer({ minimum: 1 })
  },
  { additionalProperties: false }
)
export const PongFrameSchema = Type.Object({ type: Type.Literal('pong'), ref: Type.Union([FrameIdSchema, Type.Null()]) }, { additionalProperties: false })
/** Reply to `message.send`: the stored message (`created: false` for an idempotent retry). */
export const AckFrameSchema = Type.Object(
  { type: Type.Literal('ack'), ref: Type.Union([FrameIdSchema, Type.Null()]), message: MessageSchema, created: Type.Boolean() },
  { additionalProperties: false }
)
export const ErrorFrameSchema = Type.Object(
  {
    type: Type.Literal('error'),
    /** an ErrorCode value */
    code: Type.String({ maxLength: 64 }),
    /** `id` of the offending frame when it could be read */
    ref: Type.Union([FrameIdSchema, Type.Null()]),
    detail: Type.Optional(Type.String({ maxLength: 512 }))
  },
  { additionalProperties: false }
)
/** The lease was extended (a renewal on any gateway instance for this session). */
export const RenewedFrameSchema = Type.Object({ type: Type.Literal('renewed'), expiresAt: IsoDateSchema }, { additionalProperties: false })

export const ServerFrameSchema = Type.Union([HelloFrameSchema, PongFrameSchema, AckFrameSchema, ErrorFrameSchema, RenewedFrameSchema, UserEventSchema])
export type ServerFrame = Static<typeof ServerFrameSchema>
export type HelloFrame = Static<typeof HelloFrameSchema>
export type ErrorFrame = Static<typeof ErrorFrameSchema>
export type AckFrame = Static<typeof AckFrameSchema>

// ---------------------------------------------------------------------------------------------
// HTTP: a plain `GET /ws` (no upgrade) renews the lease of the caller's session's sockets on every
// gateway instance. It goes through the edge like any forward-authed request, so it succeeds only
// while the access token is valid (the client refreshes first when it is not). Clients call it
// before `expiresAt` (hello / renewed frames); the edge routes only GET/HEAD to /ws.
// ---------------------------------------------------------------------------------------------

export const RenewResponseSchema = Type.Object({ expiresAt: IsoDateSchema }, { additionalProperties: false })
export type RenewResponse = Static<typeof RenewResponseSchema>

// ---------------------------------------------------------------------------------------------
// NATS: gateway instances tell each other about renewals (sockets of one session may be spread
// over several instances).
// ---------------------------------------------------------------------------------------------

export const GatewayLeaseRenewedEventSchema = Type.Object(
  { userId: UuidSchema, sessionId: UuidSchema, expiresAt: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false }
)
export type GatewayLeaseRenewedEvent = Static<typeof GatewayLeaseRenewedEventSchema>
export const GatewayLeaseRenewed: NatsEvent<typeof GatewayLeaseRenewedEventSchema> = {
  subject: 'gateway.lease.renewed',
  payload: GatewayLeaseRenewedEventSchema,
  publishers: ['gateway'],
  subscribers: ['gateway']
}

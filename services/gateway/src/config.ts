import { Type, type Static } from 'typebox'
import { BaseConfigSchema, type ConfigInput } from '@palisade/platform'

const ms = (def: number, min = 10, max = 24 * 3600_000) => Type.Integer({ minimum: min, maximum: max, default: def })
const count = (def: number, max = 1_000_000) => Type.Integer({ minimum: 1, maximum: max, default: def })

/**
 * Gateway settings. The gateway owns no data: DATABASE_URL is not needed (and not used if given).
 * Every limit is configurable so tests can exercise it with small values.
 */
export const GatewayConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  DATABASE_URL: Type.Optional(BaseConfigSchema.properties.DATABASE_URL),
  /** interval of WebSocket pings; a socket that has not answered the previous ping is closed */
  GATEWAY_HEARTBEAT_MS: ms(30_000),
  /** sockets are closed with 4000 (reconnect) after at most this long (minus up to 10% jitter) */
  GATEWAY_MAX_LIFETIME_MS: ms(3_600_000),
  /** cap of the identity lease; the lease is the handshake assertion's expiry (≤ 60 s) */
  GATEWAY_LEASE_MAX_MS: ms(60_000, 10, 3_600_000),
  /** open sockets one user may have on one instance; more handshakes get 429 (4003 if they race) */
  GATEWAY_MAX_SOCKETS_PER_USER: count(20),
  /** open sockets from one client address (as the edge saw it: see TRUSTED_PROXIES; IPv6 per /64) on one instance */
  GATEWAY_MAX_SOCKETS_PER_IP: count(500),
  /** largest client frame (bytes); larger ones close the socket with 1009 */
  GATEWAY_MAX_PAYLOAD_BYTES: count(64 * 1024, 16 * 1024 * 1024),
  /** data queued for a socket beyond which it is a slow consumer, closed with 1013 */
  GATEWAY_MAX_BUFFERED_BYTES: count(1024 * 1024, 1024 * 1024 * 1024),
  /** client frames per second per socket (token bucket refill); frames beyond get an error frame */
  GATEWAY_RATE_PER_SECOND: count(10, 10_000),
  /** token bucket size: frames a socket may send at once */
  GATEWAY_RATE_BURST: count(40, 100_000),
  /** frames refused by the rate limit within GATEWAY_RATE_WINDOW_MS that close the socket with 1008 */
  GATEWAY_RATE_ABUSE_LIMIT: count(40, 100_000),
  /** window of GATEWAY_RATE_ABUSE_LIMIT */
  GATEWAY_RATE_WINDOW_MS: ms(10_000),
  /** message.send requests one socket may have in flight */
  GATEWAY_MAX_INFLIGHT: count(8, 1000),
  /** how long a conversation's member list is reused for typing fan-out */
  GATEWAY_MEMBERS_CACHE_MS: ms(5_000, 0),
  /** a user's typing in one conversation is relayed at most once per interval */
  GATEWAY_TYPING_INTERVAL_MS: ms(2_000, 0)
})
export type GatewayConfig = Static<typeof GatewayConfigSchema>

type GatewayOwnKeys = Exclude<keyof GatewayConfig, keyof Static<typeof BaseConfigSchema>>
/** What the app plugin accepts: gateway settings may be left out (their defaults apply). */
export type GatewayAppConfig = ConfigInput<GatewayConfig>
export type GatewaySettings = Pick<GatewayConfig, GatewayOwnKeys>

import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Msg, Subscription } from '@nats-io/transport-node'
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import { GATEWAY_CLOSE, GatewayLeaseRenewed, NATS_HEADERS, UserEventSchema, userEventsSubject, type UserEvent } from '@palisade/contracts'
import { isUtf8 } from 'node:buffer'
import { consumerSpan, decodePayload, natsPublish, PayloadError, type Counter } from '@palisade/platform'
import type { GatewaySettings } from '../config.js'
import { Connection } from './connection.js'
import { Departures } from './departures.js'
import { PresenceReporter } from './presence.js'
import { TypingFanout } from './typing.js'

const CORKED = Symbol('corked')

/**
 * How many relayed event ids (per user) are remembered to drop a second copy. Outbox relays deliver
 * at least once; a copy comes again only when a relay died between publishing and recording it,
 * i.e. within seconds, long before this many later events have passed.
 */
const SEEN_EVENTS = 20_000

export type AdmitResult = { ok: true } | { ok: false; reason: 'user' | 'ip' }

/**
 * All sockets of one gateway instance. Indexes them by user (event delivery), session (revocation,
 * renewal) and address (caps); holds one NATS subscription to `events.user.<id>` per user with at
 * least one open socket here (reference counted by the user's socket set), so any number of
 * gateway instances can run side by side: each receives exactly the events of its own users.
 */
export class Hub {
  readonly nats: FastifyInstance['nats']
  readonly log: FastifyBaseLogger
  readonly presence: PresenceReporter
  /** how long a socket being closed by force may take to read its close frame */
  closeGraceMs = 1000
  private readonly byUser = new Map<string, Set<Connection>>()
  private readonly bySession = new Map<string, Set<Connection>>()
  private readonly byIp = new Map<string, number>()
  private readonly userSubs = new Map<string, Subscription>()
  /** resolves once the server has the user's subscription: `hello` waits for it, so no event after it is missed */
  private readonly subscribed = new Map<string, Promise<void>>()
  readonly typing: TypingFanout
  private readonly departures = new Departures()
  /** `<userId> <eventId>` of recently delivered outbox events, oldest first */
  private readonly seenEvents = new Set<string>()
  private readonly heartbeat: NodeJS.Timeout
  private shuttingDown = false
  /** frames received from and sent to clients (`palisade_gateway_frames_total`) */
  readonly frames: Counter<'direction'>

  constructor(
    private readonly app: FastifyInstance,
    readonly settings: GatewaySettings
  ) {
    this.nats = app.nats
    this.log = app.log
    this.presence = new PresenceReporter(app, (userId) => this.socketsOf(userId))
    this.typing = new TypingFanout(app.nats, settings)
    this.heartbeat = setInterval(() => this.beat(), settings.GATEWAY_HEARTBEAT_MS)
    this.heartbeat.unref()
    this.frames = app.metrics.counter({ name: 'gateway_frames_total', help: 'WebSocket frames received (in) and sent (out)', labelNames: ['direction'] })
    const hub = this
    app.metrics.gauge({
      name: 'gateway_sockets_open',
      help: 'Open client WebSockets on this instance',
      collect() {
        this.set(hub.size)
      }
    })
  }

  /**
   * Error listener of every socket (one function, not a closure per socket). Socket errors are the
   * client's doing (bad frames, oversized frames, resets) and ws has already started the matching
   * close (1002/1007/1009) or dropped the connection: only logged.
   */
  readonly onSocketError = (err: Error): void => {
    this.log.debug({ err: err.message }, 'websocket error')
  }

  get size(): number {
    let n = 0
    for (const set of this.byUser.values()) n += set.size
    return n
  }

  socketsOf(userId: string): number {
    return this.byUser.get(userId)?.size ?? 0
  }

  /** The caps, checked before the upgrade (429) and again, exactly, when the socket is added. */
  admit(userId: string, ip: string): AdmitResult {
    if (this.socketsOf(userId) >= this.settings.GATEWAY_MAX_SOCKETS_PER_USER) return { ok: false, reason: 'user' }
    if ((this.byIp.get(ip) ?? 0) >= this.settings.GATEWAY_MAX_SOCKETS_PER_IP) return { ok: false, reason: 'ip' }
    return { ok: true }
  }

  /** Takes an upgraded socket; closes it at once when a cap is hit or its session was just revoked. */
  add(ws: WebSocket, init: { userId: string; sessionId: string; ip: string; leaseEnd: number }): Connection | undefined {
    if (this.shuttingDown) {
      ws.close(GATEWAY_CLOSE.goingAway, 'server shutting down')
      return undefined
    }
    if (this.app.identityRevocations.has(init.sessionId)) {
      ws.close(GATEWAY_CLOSE.sessionRevoked, 'session revoked')
      return undefined
    }
    if (!this.admit(init.userId, init.ip).ok) {
      ws.close(GATEWAY_CLOSE.tooManyConnections, 'too many connections')
      return undefined
    }
    const s = this.settings
    const lifetime = s.GATEWAY_MAX_LIFETIME_MS * (0.9 + 0.1 * Math.random())
    const conn = new Connection(this, ws, { ...init, lifetimeEnd: Date.now() + lifetime })
    let set = this.byUser.get(init.userId)
    if (!set) {
      set = new Set()
      this.byUser.set(init.userId, set)
      this.subscribeUser(init.userId)
    }
    set.add(conn)
    this.presence.socketsChanged(init.userId, set.size, true)
    let sessionSet = this.bySession.get(init.sessionId)
    if (!sessionSet) {
      sessionSet = new Set()
      this.bySession.set(init.sessionId, sessionSet)
    }
    sessionSet.add(conn)
    this.byIp.set(init.ip, (this.byIp.get(init.ip) ?? 0) + 1)
    ws.on('close', () => conn.markClosed())
    void this.subscribed.get(init.userId)?.then(() =>
      conn.greet({
        type: 'hello',
        socketId: conn.id,
        userId: conn.userId,
        sessionId: conn.sessionId,
        expiresAt: new Date(conn.leaseEnd).toISOString(),
        heartbeatMs: s.GATEWAY_HEARTBEAT_MS
      })
    )
    return conn
  }

  /** Forgets a socket (idempotent through Connection.markClosed); the user's last one ends the subscription. */
  remove(conn: Connection): void {
    const set = this.byUser.get(conn.userId)
    const removed = set?.delete(conn) ?? false
    // While shutting down, one goodbye covers every socket (PresenceReporter.shutdown).
    if (removed && !this.shuttingDown) this.presence.socketsChanged(conn.userId, set!.size, false)
    if (removed && set!.size === 0) {
      this.byUser.delete(conn.userId)
      this.userSubs.get(conn.userId)?.unsubscribe()
      this.userSubs.delete(conn.userId)
      this.subscribed.delete(conn.userId)
      this.departures.forget(conn.userId)
    }
    const sessionSet = this.bySession.get(conn.sessionId)
    if (sessionSet?.delete(conn) && sessionSet.size === 0) this.bySession.delete(conn.sessionId)
    const n = (this.byIp.get(conn.ip) ?? 1) - 1
    if (n <= 0) this.byIp.delete(conn.ip)
    else this.byIp.set(conn.ip, n)
  }

  /**
   * The delivery hot path. A chat message to a conversation of N members arrives here as N copies
   * (one per `events.user.<id>`), byte for byte the same: each is validated against the contract
   * once — a copy equal to the last validated payload is relayed without parsing it again — and the
   * bytes go to the sockets as they are (no re-encoding per socket). A plain callback subscription
   * instead of natsSubscribe's async iterator: thousands of them stay cheap.
   */
  private subscribeUser(userId: string): void {
    const sub = this.nats.subscribe(userEventsSubject(userId), {
      callback: (err, msg) => {
        if (err) return
        // An exception thrown here would unwind into the NATS client's parser and end the connection
        // for every user of this instance: one bad delivery is logged and dropped instead.
        try {
          this.onUserEvent(userId, msg)
        } catch (error) {
          this.log.error({ err: error, user: userId }, 'delivering a user event failed')
        }
      }
    })
    this.userSubs.set(userId, sub)
    this.subscribed.set(
      userId,
      this.nats.flush().catch((err: unknown) => this.log.warn({ err }, 'NATS flush after subscribe failed'))
    )
  }

  private onUserEvent(userId: string, msg: Msg): void {
    const eventId = msg.headers?.get(NATS_HEADERS.eventId)
    if (eventId && this.seenBefore(`${userId} ${eventId}`)) return
    const span = consumerSpan('ws.deliver', 'gateway', msg.headers)
    if (!span) return void this.deliver(userId, msg.data)
    // Published inside a trace (a relayed outbox event continues its writing transaction's): the
    // delivery to this user's sockets is a span of that trace.
    const delivered = this.deliver(userId, msg.data)
    if (delivered) span.updateName(`ws.deliver ${delivered.type}`)
    span.setAttribute('palisade.ws.sockets', delivered?.sockets ?? 0)
    span.end()
  }

  /** The idempotent consumer of outbox events (docs/architecture.md, "Events"): true for a second copy. */
  private seenBefore(key: string): boolean {
    if (this.seenEvents.has(key)) return true
    this.seenEvents.add(key)
    if (this.seenEvents.size > SEEN_EVENTS) this.seenEvents.delete(this.seenEvents.values().next().value!)
    return false
  }

  private lastPayload: Buffer | undefined
  private lastEvent: UserEvent | undefined
  private corked: Socket[] = []
  private uncorkScheduled = false

  /**
   * Holds a socket's writes until the end of this turn of the event loop. NATS hands over a whole
   * read's worth of events at once; corked, each socket gets them in one write system call instead
   * of one per event (on loopback and in VMs the system call is most of the cost of a delivery).
   */
  cork(ws: WebSocket): void {
    const tcp = (ws as WebSocket & { _socket?: Socket })._socket
    if (!tcp || (tcp as Socket & { [CORKED]?: boolean })[CORKED]) return
    ;(tcp as Socket & { [CORKED]?: boolean })[CORKED] = true
    tcp.cork()
    this.corked.push(tcp)
    if (!this.uncorkScheduled) {
      this.uncorkScheduled = true
      setImmediate(this.uncorkAll)
    }
  }

  private readonly uncorkAll = (): void => {
    this.uncorkScheduled = false
    const list = this.corked
    this.corked = []
    for (const tcp of list) {
      ;(tcp as Socket & { [CORKED]?: boolean })[CORKED] = false
      tcp.uncork()
    }
  }

  /** What went to the user's sockets (nothing: undefined). */
  private deliver(userId: string, data: Uint8Array): { type: string; sockets: number } | undefined {
    const set = this.byUser.get(userId)
    if (!set) return undefined
    const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    let payload = this.lastPayload
    let event = this.lastEvent
    if (!payload || !event || !payload.equals(view)) {
      try {
        // Text frames must be UTF-8; decodePayload alone would accept invalid bytes (replaced).
        if (!isUtf8(view)) throw new PayloadError('payload is not UTF-8')
        event = decodePayload(UserEventSchema, view)
      } catch (err) {
        this.log.warn({ err: err instanceof PayloadError ? err.message : err, user: userId }, 'dropped invalid user event')
        return undefined
      }
      this.typing.observe(event)
      payload = Buffer.from(view) // the subscription's buffer may be reused: keep a copy
      this.lastPayload = payload
      this.lastEvent = event
    }
    if (!this.departures.allows(userId, event)) return undefined
    let sockets = 0
    for (const conn of set) {
      if (!conn.greeted) continue
      conn.sendRaw(payload)
      sockets++
    }
    return { type: event.type, sockets }
  }

  // ---- revocation and identity leases --------------------------------------------------------

  revoke(sessionIds: readonly string[]): void {
    for (const sid of sessionIds) {
      const set = this.bySession.get(sid)
      if (!set) continue
      const conns = [...set]
      for (const conn of conns) conn.close(GATEWAY_CLOSE.sessionRevoked, 'session revoked', true)
      this.log.info({ session: sid, sockets: conns.length }, 'revoked session: sockets closed')
    }
  }

  /**
   * This instance lost its NATS server: events (and revocations) published until it is connected to
   * another are not coming. Every socket is asked to reconnect (4000), which sends the client through
   * the edge again (auth checks the session anew) and makes it catch up over HTTP.
   */
  natsLost(): void {
    let n = 0
    for (const set of this.byUser.values()) {
      for (const conn of [...set]) {
        conn.close(GATEWAY_CLOSE.reconnect, 'realtime connection lost, reconnect')
        n++
      }
    }
    if (n > 0) this.log.warn({ sockets: n }, 'NATS connection lost: sockets asked to reconnect')
  }

  /** Extends the lease of this session's sockets on this instance. */
  renewLocal(userId: string, sessionId: string, leaseEnd: number): number {
    const set = this.bySession.get(sessionId)
    if (!set) return 0
    const capped = Math.min(leaseEnd, Date.now() + this.settings.GATEWAY_LEASE_MAX_MS)
    let n = 0
    for (const conn of set) {
      if (conn.userId !== userId) continue
      conn.renew(capped)
      n++
    }
    return n
  }

  /** A renewal on this instance, told to every other instance too (a session's sockets may be anywhere). */
  renew(userId: string, sessionId: string, leaseEnd: number): void {
    this.renewLocal(userId, sessionId, leaseEnd)
    natsPublish(this.nats, GatewayLeaseRenewed, { userId, sessionId, expiresAt: leaseEnd })
  }

  /** A socket of the user reported activity (an `activity` frame). */
  activity(userId: string): void {
    this.presence.activity(userId, this.socketsOf(userId))
  }

  // ---- heartbeat and shutdown ----------------------------------------------------------------

  /** Pings every socket; one that did not answer the previous ping is dead and cut. */
  private beat(): void {
    for (const set of this.byUser.values()) {
      for (const conn of [...set]) {
        if (!conn.alive) {
          this.log.info({ socket: conn.id }, 'missed heartbeat: socket terminated')
          conn.terminate()
          continue
        }
        conn.alive = false
        try {
          conn.ws.ping()
        } catch {
          conn.terminate()
        }
      }
    }
    this.typing.prune()
    this.departures.prune()
  }

  /** Closes every socket with 1001, waits for them (at most `graceMs`), cuts the rest. */
  async shutdown(graceMs: number): Promise<void> {
    this.shuttingDown = true
    clearInterval(this.heartbeat)
    const sockets: WebSocket[] = []
    for (const set of this.byUser.values()) {
      for (const conn of [...set]) {
        sockets.push(conn.ws)
        conn.close(GATEWAY_CLOSE.goingAway, 'server shutting down')
      }
    }
    const deadline = Date.now() + graceMs
    while (sockets.some((ws) => ws.readyState !== ws.CLOSED) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    for (const ws of sockets) if (ws.readyState !== ws.CLOSED) ws.terminate()
    for (const sub of this.userSubs.values()) sub.unsubscribe()
    this.userSubs.clear()
    await this.presence.shutdown()
  }
}

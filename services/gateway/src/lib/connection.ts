import { randomUUID } from 'node:crypto'
import type { RawData, WebSocket } from 'ws'
import {
  CLIENT_FRAME_SCHEMAS,
  ChatMessageCreate,
  ErrorCode,
  FrameIdSchema,
  GATEWAY_CLOSE,
  userEventsSubject,
  type ClientFrame,
  type HelloFrame,
  type ServerFrame,
  type TypingEvent
} from '@palisade/contracts'
import { encodePayload, natsRequest, ProblemError, validatorFor } from '@palisade/platform'
import type { Hub } from './hub.js'

const OPEN = 1
const frameId = validatorFor(FrameIdSchema)

function refOf(value: unknown): string | null {
  const id = (value as { id?: unknown } | null)?.id
  return typeof value === 'object' && value !== null && frameId.Check(id) ? (id as string) : null
}

export interface ConnectionInit {
  userId: string
  sessionId: string
  ip: string
  /** epoch ms when the identity lease ends (socket closed with 4002 unless renewed) */
  leaseEnd: number
  /** epoch ms when the socket is closed with 4000 whatever happens */
  lifetimeEnd: number
}

/**
 * One client socket: its identity, limits and the frames it sends. Kept small on purpose (a few
 * numbers and references): the gateway holds thousands of these.
 */
export class Connection {
  readonly id = randomUUID()
  readonly userId: string
  readonly sessionId: string
  readonly ip: string
  leaseEnd: number
  readonly lifetimeEnd: number
  /** answered the last heartbeat ping */
  alive = true
  /** `hello` sent: events are relayed from then on (never before it) */
  greeted = false
  closed = false
  private timer: NodeJS.Timeout | undefined
  private tokens: number
  private refilledAt = Date.now()
  private strikes = 0
  private strikeWindowStart = Date.now()
  private inflight = 0

  constructor(
    private readonly hub: Hub,
    readonly ws: WebSocket,
    init: ConnectionInit
  ) {
    this.userId = init.userId
    this.sessionId = init.sessionId
    this.ip = init.ip
    this.leaseEnd = init.leaseEnd
    this.lifetimeEnd = init.lifetimeEnd
    this.tokens = hub.settings.GATEWAY_RATE_BURST
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary))
    ws.on('pong', () => {
      this.alive = true
    })
    this.schedule()
  }

  /** (Re)arms the one timer of the socket: the earlier of lease end and lifetime end. */
  schedule(): void {
    if (this.timer) clearTimeout(this.timer)
    if (this.closed) return
    const due = Math.min(this.leaseEnd, this.lifetimeEnd)
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, due - Date.now()))
  }

  private onTimer(): void {
    const now = Date.now()
    if (now >= this.lifetimeEnd) this.close(GATEWAY_CLOSE.reconnect, 'maximum lifetime reached, reconnect')
    else if (now >= this.leaseEnd) this.close(GATEWAY_CLOSE.identityExpired, 'identity expired, re-authenticate')
    else this.schedule()
  }

  renew(leaseEnd: number): void {
    if (this.closed || leaseEnd <= this.leaseEnd) return
    this.leaseEnd = leaseEnd
    this.schedule()
    this.sendFrame({ type: 'renewed', expiresAt: new Date(leaseEnd).toISOString() })
  }

  /**
   * Queues a text frame, unless the client is not reading: beyond the buffered limit the socket
   * is closed with 1013 instead of letting the gateway's memory grow.
   */
  send(text: string): void {
    if (!this.writable()) return
    this.ws.send(text)
    this.hub.frames.inc({ direction: 'out' })
  }

  /** A text frame from bytes already known to be UTF-8 JSON (relayed events). */
  sendRaw(utf8: Buffer): void {
    if (!this.writable()) return
    this.hub.cork(this.ws)
    this.ws.send(utf8, { binary: false })
    this.hub.frames.inc({ direction: 'out' })
  }

  private writable(): boolean {
    if (this.closed || this.ws.readyState !== OPEN) return false
    if (this.ws.bufferedAmount > this.hub.settings.GATEWAY_MAX_BUFFERED_BYTES) {
      this.hub.log.info({ socket: this.id, buffered: this.ws.bufferedAmount }, 'slow consumer closed')
      this.close(GATEWAY_CLOSE.tryAgainLater, 'slow consumer', true)
      return false
    }
    return true
  }

  greet(hello: HelloFrame): void {
    if (this.closed) return
    this.sendFrame(hello)
    this.greeted = true
  }

  sendFrame(frame: ServerFrame): void {
    this.send(JSON.stringify(frame))
  }

  private error(code: string, ref: string | null, detail?: string): void {
    this.sendFrame(detail ? { type: 'error', code, ref, detail: detail.slice(0, 512) } : { type: 'error', code, ref })
  }

  /**
   * Starts the close handshake. `force`: the peer may never read the close frame (slow consumer,
   * shutdown), so the TCP connection is cut after a short grace.
   */
  close(code: number, reason: string, force = false): void {
    if (this.closed) return
    this.markClosed()
    try {
      this.ws.close(code, reason)
    } catch {
      this.ws.terminate()
    }
    if (force) setTimeout(() => this.ws.terminate(), this.hub.closeGraceMs).unref()
  }

  terminate(): void {
    this.markClosed()
    this.ws.terminate()
  }

  /** Called once, by close/terminate or when the socket reports it closed. */
  markClosed(): void {
    if (this.closed) return
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.hub.remove(this)
  }

  /** Token bucket per socket; sustained abuse (many refused frames in a window) closes with 1008. */
  private admit(): boolean {
    const s = this.hub.settings
    const now = Date.now()
    this.tokens = Math.min(s.GATEWAY_RATE_BURST, this.tokens + ((now - this.refilledAt) * s.GATEWAY_RATE_PER_SECOND) / 1000)
    this.refilledAt = now
    if (this.tokens >= 1) {
      this.tokens -= 1
      return true
    }
    if (now - this.strikeWindowStart > s.GATEWAY_RATE_WINDOW_MS) {
      this.strikeWindowStart = now
      this.strikes = 0
    }
    this.strikes++
    if (this.strikes >= s.GATEWAY_RATE_ABUSE_LIMIT) {
      this.hub.log.info({ socket: this.id, user: this.userId }, 'socket closed for rate-limit abuse')
      this.close(GATEWAY_CLOSE.policyViolation, 'rate limit exceeded')
    } else if (this.strikes === 1) {
      // One error frame per window: refusing a flood must not become a flood of replies.
      this.error(ErrorCode.tooManyRequests, null, 'too many frames; slow down')
    }
    return false
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    this.hub.frames.inc({ direction: 'in' })
    if (this.closed || !this.admit()) return
    if (isBinary) return this.error(ErrorCode.unsupportedMediaType, null, 'frames must be JSON text')
    let value: unknown
    try {
      value = JSON.parse(data.toString())
    } catch {
      return this.error(ErrorCode.malformedBody, null, 'frame is not valid JSON')
    }
    const ref = refOf(value)
    const type = (value as { type?: unknown } | null)?.type
    const schema =
      typeof type === 'string' && Object.hasOwn(CLIENT_FRAME_SCHEMAS, type) ? CLIENT_FRAME_SCHEMAS[type as keyof typeof CLIENT_FRAME_SCHEMAS] : undefined
    if (!schema) return this.error(ErrorCode.validationFailed, ref, 'unknown frame type')
    const check = validatorFor(schema)
    if (!check.Check(value)) {
      const first = [...check.Errors(value)][0]
      return this.error(ErrorCode.validationFailed, ref, `${first?.instancePath || '/'}: ${first?.message ?? 'invalid'}`)
    }
    const frame = value as ClientFrame
    switch (frame.type) {
      case 'ping':
        return this.sendFrame({ type: 'pong', ref })
      case 'message.send':
        return void this.sendMessage(frame, ref)
      case 'typing':
        return void this.typing(frame.conversationId, ref)
      case 'activity':
        return this.hub.activity(this.userId)
    }
  }

  private context() {
    return { userId: this.userId, sessionId: this.sessionId, requestId: randomUUID() }
  }

  private replyError(err: unknown, ref: string | null): void {
    if (err instanceof ProblemError) return this.error(err.code, ref, err.statusCode < 500 ? err.message : undefined)
    this.hub.log.error({ err, socket: this.id }, 'frame handling failed')
    this.error(ErrorCode.internal, ref)
  }

  private async sendMessage(frame: Extract<ClientFrame, { type: 'message.send' }>, ref: string | null): Promise<void> {
    if (this.inflight >= this.hub.settings.GATEWAY_MAX_INFLIGHT) return this.error(ErrorCode.tooManyRequests, ref, 'too many messages in flight')
    this.inflight++
    try {
      // The frame is the request minus its framing (type, id); chat validates the references.
      const { type: _type, id: _id, ...request } = frame
      const res = await natsRequest(this.hub.nats, ChatMessageCreate, request, this.context())
      this.sendFrame({ type: 'ack', ref, message: res.message, created: res.created })
    } catch (err) {
      this.replyError(err, ref)
    } finally {
      this.inflight--
    }
  }

  /** Relays "typing" to the other members (never stored); at most once per interval per conversation. */
  private async typing(conversationId: string, ref: string | null): Promise<void> {
    if (!this.hub.typing.allowed(this.userId, conversationId)) return
    try {
      const members = await this.hub.typing.membersOf(conversationId, this.userId, this.context())
      const event: TypingEvent = { type: 'typing', at: new Date().toISOString(), conversationId, userId: this.userId }
      const data = encodePayload(event)
      for (const id of members) if (id !== this.userId) this.hub.nats.publish(userEventsSubject(id), data)
    } catch (err) {
      this.hub.typing.failed(this.userId, conversationId)
      this.replyError(err, ref)
    }
  }
}

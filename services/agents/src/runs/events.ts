import type { NatsConnection } from '@nats-io/transport-node'
import { userEventsSubject, type AgentRunEvent } from '@palisade/contracts'
import { encodePayload, type Emit } from '@palisade/platform'
import type { RunAudience } from './audience.js'

type Distributive<T> = T extends unknown ? Omit<T, 'at' | 'runId' | 'agentId' | 'agentName' | 'conversationId'> : never
export type RunEventBody = Distributive<AgentRunEvent>

export interface RunRef {
  runId: string
  agentId: string
  agentName: string
  conversationId: string
}

/**
 * Publishes a run's events to `events.user.<id>` of each member in its audience at the moment of
 * publishing (the audience shrinks as members leave); the gateway relays them to sockets.
 */
export class MemberFanout {
  constructor(
    private readonly nats: NatsConnection,
    private readonly ref: RunRef,
    private readonly audience: RunAudience
  ) {}

  get size(): number {
    return this.audience.size
  }

  publish(body: RunEventBody): void {
    if (this.nats.isClosed() || this.audience.size === 0) return
    // Encoded once for every member (subjects: AgentRunEvents, `events.user.<id>`).
    const data = encodePayload(this.event(body))
    for (const id of this.audience) this.nats.publish(userEventsSubject(id), data)
  }

  /**
   * Adds the event to a transaction's outbox instead (a run's end, written with the run's final
   * state). The relay publishes on the same NATS connection as `publish`, so it follows the deltas.
   */
  emit(emit: Emit, body: RunEventBody): void {
    emit([...this.audience].map(userEventsSubject), this.event(body))
  }

  private event(body: RunEventBody): AgentRunEvent {
    return { ...body, at: new Date().toISOString(), ...this.ref } as AgentRunEvent
  }
}

const MAX_DELTA_CHARS = 8192

/**
 * Batches streamed tokens into `agent.run.delta` events: the first token after a quiet period goes
 * out at once (latency), later ones are merged for at most `intervalMs` (message rate). The interval
 * grows with the audience (one more interval per 100 members) so that a run in a large conversation
 * cannot flood NATS: at most about 100 × 1000/flushMs published events per second per run.
 */
export class DeltaBatcher {
  private buffer = ''
  private seq = 0
  private lastFlush = 0
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly fanout: MemberFanout,
    private readonly flushMs: number
  ) {}

  private get intervalMs(): number {
    return this.flushMs * Math.max(1, Math.ceil(this.fanout.size / 100))
  }

  push(text: string): void {
    if (!text) return
    this.buffer += text
    if (this.buffer.length >= MAX_DELTA_CHARS) return this.flush()
    if (this.timer) return
    const wait = this.lastFlush + this.intervalMs - Date.now()
    if (wait <= 0) return this.flush()
    this.timer = setTimeout(() => this.flush(), wait)
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    while (this.buffer.length > 0) {
      let cut = Math.min(this.buffer.length, MAX_DELTA_CHARS)
      // never split a surrogate pair between two events
      if (cut < this.buffer.length && /[\uD800-\uDBFF]/.test(this.buffer[cut - 1]!)) cut--
      const text = this.buffer.slice(0, cut)
      this.buffer = this.buffer.slice(text.length)
      this.fanout.publish({ type: 'agent.run.delta', seq: this.seq++, text })
    }
    this.lastFlush = Date.now()
  }

  /** Drops what is pending (the run ended without output to show). */
  discard(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.buffer = ''
  }
}

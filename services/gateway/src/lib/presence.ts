import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { ChatPresenceReport, GatewayInstanceAlive, PRESENCE_LIMITS } from '@palisade/contracts'
import { natsPublish, natsRequest } from '@palisade/platform'

/**
 * This instance's part of presence: it tells chat how many sockets it holds for each user (on every
 * change) and when a user was active (at most once per PRESENCE_LIMITS.activityIntervalMs), and
 * announces itself so that chat can drop its sockets should it die without saying goodbye. Chat
 * adds up every instance, so a user with tabs on several instances is online while any is open.
 */
export class PresenceReporter {
  readonly instanceId = randomUUID()
  private readonly log: FastifyBaseLogger
  private readonly nats: FastifyInstance['nats']
  /** per user: the reports not yet answered, chained so chat applies them in order */
  private readonly queue = new Map<string, Promise<void>>()
  private readonly activeReportedAt = new Map<string, number>()
  /** users whose last report failed (chat unreachable) → whether a lost one was about activity; retried with the heartbeat */
  private readonly unreported = new Map<string, boolean>()
  private readonly timer: NodeJS.Timeout

  /** `socketsOf`: how many sockets this instance holds for a user now */
  constructor(
    app: FastifyInstance,
    private readonly socketsOf: (userId: string) => number
  ) {
    this.log = app.log
    this.nats = app.nats
    this.announce(PRESENCE_LIMITS.instanceTtlMs)
    this.timer = setInterval(() => this.beat(), PRESENCE_LIMITS.instanceHeartbeatMs)
    this.timer.unref()
  }

  private beat(): void {
    this.announce(PRESENCE_LIMITS.instanceTtlMs)
    const retry = [...this.unreported]
    this.unreported.clear()
    for (const [userId, active] of retry) this.report(userId, this.socketsOf(userId), active)
  }

  /** The user's socket count here changed (`sockets` = how many now); opening one counts as activity. */
  socketsChanged(userId: string, sockets: number, opened: boolean): void {
    if (opened) this.activeReportedAt.set(userId, Date.now())
    if (sockets === 0) this.activeReportedAt.delete(userId)
    this.report(userId, sockets, opened)
  }

  /** The user did something in a tab; forwarded at most once per interval. */
  activity(userId: string, sockets: number): void {
    const last = this.activeReportedAt.get(userId)
    if (last !== undefined && Date.now() - last < PRESENCE_LIMITS.activityIntervalMs) return
    this.activeReportedAt.set(userId, Date.now())
    this.report(userId, sockets, true)
  }

  /** Going away: chat forgets this instance's sockets at once (its users elsewhere stay online). */
  async shutdown(): Promise<void> {
    clearInterval(this.timer)
    await Promise.allSettled(this.queue.values())
    this.announce(0)
    await this.nats.flush().catch(() => {})
  }

  private announce(ttlMs: number): void {
    try {
      natsPublish(this.nats, GatewayInstanceAlive, { instanceId: this.instanceId, ttlMs })
    } catch (err) {
      this.log.warn({ err }, 'presence heartbeat not sent')
    }
  }

  private report(userId: string, sockets: number, active: boolean): void {
    const prev = this.queue.get(userId) ?? Promise.resolve()
    const next = prev
      // The acting user without a session: this is the gateway stating a fact about its sockets,
      // which must reach chat even when the socket closed because its session was revoked.
      .then(() => natsRequest(this.nats, ChatPresenceReport, { instanceId: this.instanceId, sockets, active }, { userId }))
      .then(
        () => undefined,
        (err: unknown) => {
          // A lost report would leave chat with a stale count for as long as this instance lives.
          this.unreported.set(userId, active || (this.unreported.get(userId) ?? false))
          this.log.warn({ err, user: userId }, 'presence report failed; retried with the next heartbeat')
        }
      )
    this.queue.set(userId, next)
    void next.then(() => {
      if (this.queue.get(userId) === next) this.queue.delete(userId)
    })
  }
}

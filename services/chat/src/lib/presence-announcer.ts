import type pg from 'pg'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { PRESENCE_LIMITS, userEventsSubject, type Presence, type PresenceChangedEvent } from '@palisade/contracts'
import { encodePayload } from '@palisade/platform'

/**
 * Tells everyone who shares a conversation with a user about that user's presence changes, gathered
 * over a short window: one query finds, for every peer, which of the changed users they may see,
 * and each peer gets one event listing them. Announced one by one, a wave of N people coming online
 * together cost N peer lookups and N × peers publishes (in a conversation of 2 000, millions).
 *
 * Published at once, not through the outbox (docs/architecture.md, "Events"): presence is what is
 * true now, and a lost announcement is corrected by the next change or the members panel's list.
 */
export class PresenceAnnouncer {
  private pending = new Map<string, Presence>()
  private timer: NodeJS.Timeout | undefined
  private flushing: Promise<void> = Promise.resolve()

  constructor(
    private readonly pool: pg.Pool,
    private readonly nats: FastifyInstance['nats'],
    private readonly log: FastifyBaseLogger,
    private readonly windowMs: number = PRESENCE_LIMITS.announceWindowMs
  ) {}

  /** A user's presence as others may see it changed; the latest change within the window wins. */
  announce(presence: Presence): void {
    this.pending.set(presence.userId, presence)
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      void this.flush()
    }, this.windowMs)
  }

  /** Announces what is pending now (also on close, so that a stopping instance loses nothing it knew). */
  flush(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.pending.size === 0) return this.flushing
    const batch = this.pending
    this.pending = new Map()
    this.flushing = this.flushing.then(() => this.publish(batch)).catch((err: unknown) => this.log.warn({ err }, 'presence announcement failed'))
    return this.flushing
  }

  private async publish(batch: Map<string, Presence>): Promise<void> {
    // Per peer, the changed users they share a conversation with, as one string: the same set for
    // many peers (everyone in one big conversation) is then encoded once.
    const r = await this.pool.query<{ peer: string; users: string }>({
      name: 'chat_presence_peers_of_many',
      text: `SELECT o.user_id AS peer, string_agg(DISTINCT m.user_id::text, ' ' ORDER BY m.user_id::text) AS users
             FROM chat.members m JOIN chat.members o ON o.conversation_id = m.conversation_id AND o.user_id <> m.user_id
             WHERE m.user_id = ANY($1::uuid[])
             GROUP BY o.user_id`,
      values: [[...batch.keys()]]
    })
    const at = new Date().toISOString()
    const encoded = new Map<string, Uint8Array[]>()
    for (const { peer, users } of r.rows) {
      let events = encoded.get(users)
      if (!events) {
        events = []
        const presences = users.split(' ').map((id) => batch.get(id)!)
        for (let i = 0; i < presences.length; i += PRESENCE_LIMITS.changesPerEventMax) {
          const event: PresenceChangedEvent = { type: 'presence.changed', at, presences: presences.slice(i, i + PRESENCE_LIMITS.changesPerEventMax) }
          events.push(encodePayload(event))
        }
        encoded.set(users, events)
      }
      for (const data of events) this.nats.publish(userEventsSubject(peer), data)
    }
  }
}

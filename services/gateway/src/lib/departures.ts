import type { UserEvent } from '@palisade/contracts'

/**
 * How long agent-run frames of a conversation a user just left are dropped. The agents service
 * stops streaming to them when it hears of the change (or at its next membership re-check); this
 * covers frames it published before that, which may reach NATS after the removal did.
 */
const DEPARTED_MS = 60_000

/**
 * Drops an agent run's frames for a conversation a user has left: the run's publisher and chat are
 * different NATS clients, so a frame sent just before the agents service heard of the removal can
 * arrive after it. The user's own event stream is ordered, so from the removal on nothing of the
 * run reaches them.
 */
export class Departures {
  /** per user: conversations they left (or that were deleted) → until when their run frames are dropped */
  private readonly byUser = new Map<string, Map<string, number>>()

  /** Whether `event` may still go to `userId`; membership events seen in passing update the record. */
  allows(userId: string, event: UserEvent): boolean {
    switch (event.type) {
      case 'agent.run.delta':
      case 'agent.run.completed':
      case 'agent.run.failed':
      case 'agent.run.cancelled': {
        const until = this.byUser.get(userId)?.get(event.conversationId)
        return until === undefined || until < Date.now()
      }
      case 'member.removed':
        if (event.userId === userId) this.mark(userId, event.conversationId)
        return true
      case 'conversation.deleted':
        this.mark(userId, event.conversationId)
        return true
      case 'member.added':
        if (event.userId === userId) this.byUser.get(userId)?.delete(event.conversationId)
        return true
      default:
        return true
    }
  }

  /** The user has no socket here any more. */
  forget(userId: string): void {
    this.byUser.delete(userId)
  }

  prune(now = Date.now()): void {
    for (const [userId, map] of this.byUser) {
      for (const [conversationId, until] of map) if (until < now) map.delete(conversationId)
      if (map.size === 0) this.byUser.delete(userId)
    }
  }

  private mark(userId: string, conversationId: string): void {
    let map = this.byUser.get(userId)
    if (!map) {
      map = new Map()
      this.byUser.set(userId, map)
    }
    map.set(conversationId, Date.now() + DEPARTED_MS)
  }
}

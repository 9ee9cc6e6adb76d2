import { ASSERTION_MAX_TTL_SECONDS } from '@palisade/contracts'

/**
 * Session ids revoked recently. An assertion lives at most ASSERTION_MAX_TTL_SECONDS, so a revoked
 * session only needs remembering a little longer than that for services: after it, every assertion
 * for it has expired anyway. Memory stays bounded by the revocation rate.
 */
export class RecentRevocations {
  private readonly until = new Map<string, number>()
  constructor(private readonly keepMs = (ASSERTION_MAX_TTL_SECONDS + 30) * 1000) {}

  add(sessionIds: readonly string[], now = Date.now()): void {
    for (const id of sessionIds) this.until.set(id, now + this.keepMs)
    this.prune(now)
  }

  has(sessionId: string, now = Date.now()): boolean {
    const t = this.until.get(sessionId)
    return t !== undefined && t > now
  }

  private prune(now: number): void {
    for (const [id, t] of this.until) {
      if (t > now) break // insertion order = expiry order
      this.until.delete(id)
    }
  }
}

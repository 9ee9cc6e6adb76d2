import type pg from 'pg'
import { LRUCache } from 'lru-cache'

interface Bucket {
  tokens: number
  at: number
}

/** Write a token's last use at most this often per auth instance (one UPDATE, not one per request). */
const LAST_USED_EVERY_MS = 60_000

/**
 * Per-token request budget and last-use bookkeeping, per auth instance, on /verify's hot path.
 * A token bucket of `perMinute` requests refilled continuously: a script may burst up to a minute's
 * budget, then gets 429 with Retry-After. With several auth instances behind the edge each one
 * counts on its own, so the effective limit is at most instances × `perMinute`.
 */
export class TokenUsage {
  private readonly buckets = new LRUCache<string, Bucket>({ max: 100_000 })
  private readonly lastWritten = new LRUCache<string, number>({ max: 100_000 })

  constructor(
    private readonly pool: pg.Pool,
    private readonly perMinute: number,
    private readonly onError: (err: unknown) => void
  ) {}

  /** Takes one request from the token's budget: 0 when allowed, else seconds until one is free. */
  take(tokenId: string, now = Date.now()): number {
    const ratePerMs = this.perMinute / 60_000
    const b = this.buckets.get(tokenId) ?? { tokens: this.perMinute, at: now }
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * ratePerMs)
    b.at = now
    if (b.tokens < 1) {
      this.buckets.set(tokenId, b)
      return Math.max(1, Math.ceil((1 - b.tokens) / ratePerMs / 1000))
    }
    b.tokens -= 1
    this.buckets.set(tokenId, b)
    return 0
  }

  /** Records a use (fire and forget; a lost write only makes "last used" older). */
  touch(tokenId: string, now = Date.now()): void {
    const last = this.lastWritten.get(tokenId)
    if (last !== undefined && now - last < LAST_USED_EVERY_MS) return
    this.lastWritten.set(tokenId, now)
    this.pool.query('UPDATE auth.personal_tokens SET last_used_at = now() WHERE id = $1', [tokenId]).catch(this.onError)
  }
}

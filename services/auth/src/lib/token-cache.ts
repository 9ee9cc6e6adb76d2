import * as crypto from 'node:crypto'
import { LRUCache } from 'lru-cache'
import { signAssertion, type SigningKey } from '@palisade/platform'
import { APP_SERVICES, ASSERTION_MAX_TTL_SECONDS, type AppServiceName, type TokenScope } from '@palisade/contracts'

export interface VerifiedAccess {
  userId: string
  sessionId: string
  roles: string[]
  /** access token expiry, epoch seconds */
  exp: number
  /** set for a personal access token (whose id is `sessionId`): what the route table may let it do */
  scopes?: readonly TokenScope[]
}

interface CachedAssertion {
  token: string
  exp: number
}

// crypto.hash (Node ≥ 20.12) skips the Hash object: half the cost of createHash on the hot path.
const oneShotHash = (crypto as { hash?: (alg: string, data: string, enc: 'base64url') => string }).hash

/** Re-sign an assertion once less than this is left of it (services see at least this much lifetime). */
const ASSERTION_REFRESH_MARGIN_SECONDS = 15

/**
 * A lease renewal (plain GET on a WebSocket route) reuses only an assertion signed this recently.
 * The gateway's lease ends with the assertion, so a reused one would end every renewal's lease
 * where the handshake's did: sockets opened together would renew together forever, and a renewal
 * sent early would extend nothing.
 */
export const RENEWAL_REUSE_SECONDS = 5

/**
 * A Map bounded to `max` entries, evicting the oldest insertion first. Entries carry their own
 * expiry, checked by the caller; lighter than an LRU with per-entry timers on the hottest path.
 */
class BoundedMap<V> {
  private readonly map = new Map<string, V>()
  constructor(
    private readonly max: number,
    private readonly onEvict?: (key: string, value: V) => void
  ) {}

  get(key: string): V | undefined {
    return this.map.get(key)
  }

  set(key: string, value: V): void {
    if (this.map.has(key)) this.map.delete(key)
    else if (this.map.size >= this.max) {
      const oldest = this.map.keys().next()
      if (!oldest.done) this.delete(oldest.value)
    }
    this.map.set(key, value)
  }

  delete(key: string): void {
    const v = this.map.get(key)
    if (v !== undefined && this.map.delete(key)) this.onEvict?.(key, v)
  }

  clear(): void {
    this.map.clear()
  }
}

/**
 * The state that makes /verify cheap and revocation immediate, per auth instance:
 * - access tokens already verified (by sha256, until they expire), indexed by session;
 * - sessions revoked recently (kept for longer than any access token lives);
 * - one signed assertion per (session, audience), reused until shortly before it expires.
 * A revocation drops the session's tokens and assertions and remembers the session id, which is
 * checked on every cache hit (so a verification racing with the revocation cannot resurrect it).
 */
export class TokenCache {
  private readonly verified: BoundedMap<VerifiedAccess>
  private readonly bySession = new Map<string, Set<string>>()
  private readonly assertions: BoundedMap<CachedAssertion>
  private readonly rejected: LRUCache<string, string>
  private readonly revoked = new Map<string, number>()

  constructor(
    private readonly revokedKeepMs: number,
    max = 100_000
  ) {
    this.verified = new BoundedMap<VerifiedAccess>(max, (key, value) => {
      const set = this.bySession.get(value.sessionId)
      if (set) {
        set.delete(key)
        if (set.size === 0) this.bySession.delete(value.sessionId)
      }
    })
    this.assertions = new BoundedMap<CachedAssertion>(max)
    this.rejected = new LRUCache<string, string>({ max: 10_000, ttl: 60_000 })
  }

  static hash(token: string): string {
    return oneShotHash ? oneShotHash('sha256', token, 'base64url') : crypto.createHash('sha256').update(token).digest('base64url')
  }

  /** A verified, unexpired, unrevoked entry for this token hash, or undefined. */
  get(hash: string, nowSeconds: number): VerifiedAccess | undefined {
    const hit = this.verified.get(hash)
    if (!hit) return undefined
    if (hit.exp <= nowSeconds || this.isRevoked(hit.sessionId)) {
      this.verified.delete(hash)
      return undefined
    }
    return hit
  }

  set(hash: string, v: VerifiedAccess, nowSeconds: number): void {
    if (this.isRevoked(v.sessionId)) return
    if (v.exp <= nowSeconds) return
    this.verified.set(hash, v)
    let set = this.bySession.get(v.sessionId)
    if (!set) {
      set = new Set()
      this.bySession.set(v.sessionId, set)
    }
    set.add(hash)
  }

  /** Tokens that failed verification recently, so a flood of one bad token costs one verification. */
  rejectedReason(hash: string): string | undefined {
    return this.rejected.get(hash)
  }

  reject(hash: string, reason: string): void {
    this.rejected.set(hash, reason)
  }

  /** `renewal`: reuse only an assertion of at most RENEWAL_REUSE_SECONDS ago (see there). */
  assertionFor(v: VerifiedAccess, audience: AppServiceName, key: SigningKey, issuer: string, nowSeconds: number, renewal = false): string {
    const k = `${v.sessionId}|${audience}`
    const cached = this.assertions.get(k)
    const minLeft = renewal ? ASSERTION_MAX_TTL_SECONDS - RENEWAL_REUSE_SECONDS : ASSERTION_REFRESH_MARGIN_SECONDS
    // Reuse while enough lifetime is left, or while it already lasts as long as the access token.
    if (cached && cached.exp > nowSeconds && (cached.exp - nowSeconds > minLeft || (cached.exp >= v.exp && cached.exp > nowSeconds + 1))) {
      return cached.token
    }
    const ttl = Math.max(1, Math.min(ASSERTION_MAX_TTL_SECONDS, v.exp - nowSeconds))
    const { token, claims } = signAssertion(key, {
      issuer,
      audience,
      userId: v.userId,
      sessionId: v.sessionId,
      roles: v.roles,
      ttlSeconds: ttl,
      notAfter: v.exp
    })
    if (!this.isRevoked(v.sessionId)) this.assertions.set(k, { token, exp: claims.exp })
    return token
  }

  isRevoked(sessionId: string, now = Date.now()): boolean {
    const until = this.revoked.get(sessionId)
    if (until === undefined) return false
    if (until > now) return true
    this.revoked.delete(sessionId)
    return false
  }

  revoke(sessionIds: readonly string[], now = Date.now()): void {
    for (const sid of sessionIds) {
      this.revoked.delete(sid)
      this.revoked.set(sid, now + this.revokedKeepMs)
      for (const hash of [...(this.bySession.get(sid) ?? [])]) this.verified.delete(hash)
      this.bySession.delete(sid)
      for (const aud of APP_SERVICES) this.assertions.delete(`${sid}|${aud}`)
    }
    for (const [sid, until] of this.revoked) {
      if (until > now) break // insertion order = expiry order
      this.revoked.delete(sid)
    }
  }

  clear(): void {
    this.verified.clear()
    this.assertions.clear()
    this.rejected.clear()
    this.bySession.clear()
  }
}

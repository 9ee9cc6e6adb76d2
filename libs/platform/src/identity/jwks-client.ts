import type { KeyObject } from 'node:crypto'
import type { Jwks } from '@palisade/contracts'
import { publicKeyFromJwk } from './keys.js'

/**
 * Public keys by kid, fetched from auth (over NATS) and refreshed when an unknown kid shows up —
 * that is how a rotated key becomes known — at most once per `minRefreshMs` so a flood of tokens
 * with made-up kids cannot turn into a flood of fetches.
 */
export class JwksCache {
  private keys = new Map<string, KeyObject>()
  private lastFetch = 0
  private inflight: Promise<void> | undefined

  constructor(
    private readonly fetchJwks: () => Promise<Jwks>,
    private readonly minRefreshMs = 5000
  ) {}

  async keyFor(kid: string): Promise<KeyObject | undefined> {
    const known = this.keys.get(kid)
    if (known) return known
    if (Date.now() - this.lastFetch >= this.minRefreshMs) await this.refresh()
    else if (this.inflight) await this.inflight
    return this.keys.get(kid)
  }

  refresh(): Promise<void> {
    this.inflight ??= (async () => {
      this.lastFetch = Date.now()
      try {
        const jwks = await this.fetchJwks()
        const next = new Map<string, KeyObject>()
        for (const jwk of jwks.keys) next.set(jwk.kid, publicKeyFromJwk(jwk))
        this.keys = next
      } finally {
        this.inflight = undefined
      }
    })()
    return this.inflight
  }
}

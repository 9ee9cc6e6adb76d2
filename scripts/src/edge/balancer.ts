import { connect } from 'node:net'

/** How long an instance that refused a connection is left out (then it gets traffic again). */
export const DEFAULT_DOWN_MS = 2000

/**
 * The instances of one service: round-robin over those not marked down, plus passive health: an
 * instance that refuses a connection is left out for `downMs`. When every instance is marked down
 * the one that comes back soonest is tried anyway — the edge never refuses on its own guess.
 */
export class UpstreamPool<T = URL> {
  private next = 0
  private readonly downUntil = new Map<T, number>()

  constructor(
    readonly targets: readonly T[],
    private readonly downMs = DEFAULT_DOWN_MS
  ) {
    if (targets.length === 0) throw new Error('an upstream pool needs at least one target')
  }

  get size(): number {
    return this.targets.length
  }

  /** The next live target not in `tried`; undefined once every target was tried. */
  pick(tried: ReadonlySet<T> = new Set(), now = Date.now()): T | undefined {
    const n = this.targets.length
    let fallback: T | undefined
    let fallbackAt = Number.POSITIVE_INFINITY
    for (let i = 0; i < n; i++) {
      const t = this.targets[(this.next + i) % n]!
      if (tried.has(t)) continue
      const until = this.downUntil.get(t) ?? 0
      if (until <= now) {
        this.next = (this.next + i + 1) % n
        return t
      }
      if (until < fallbackAt) {
        fallback = t
        fallbackAt = until
      }
    }
    return fallback
  }

  markDown(target: T, now = Date.now()): void {
    this.downUntil.set(target, now + this.downMs)
  }

  markUp(target: T): void {
    this.downUntil.delete(target)
  }

  isDown(target: T, now = Date.now()): boolean {
    return (this.downUntil.get(target) ?? 0) > now
  }
}

const NOT_DELIVERED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])
const CUT_OFF = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])

/** The connection was never made: the request did not reach the instance (safe to send elsewhere, any method). */
export function notDelivered(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } }
  return NOT_DELIVERED.has(e?.code ?? '') || NOT_DELIVERED.has(e?.cause?.code ?? '')
}

/** The instance went away mid-request: it may have acted on it (safe to repeat only when idempotent). */
export function cutOff(err: unknown): boolean {
  const e = err as { code?: string; message?: string; cause?: { code?: string } }
  return CUT_OFF.has(e?.code ?? '') || CUT_OFF.has(e?.cause?.code ?? '') || /socket hang up/.test(e?.message ?? '')
}

export const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

/** Whether something accepts TCP connections at `url` within `timeoutMs` (before a WebSocket is relayed there). */
export function accepts(url: URL, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(Number(url.port || 80), url.hostname)
    const timer = setTimeout(() => done(false), timeoutMs)
    const done = (ok: boolean) => {
      clearTimeout(timer)
      s.destroy()
      resolve(ok)
    }
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

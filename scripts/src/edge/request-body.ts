import type { IncomingMessage } from 'node:http'
import { Transform, type TransformCallback } from 'node:stream'

/**
 * Request bodies at the edge. A client that sends its body slowly must never hold a service: small
 * bodies are read whole before the upstream request is opened, every body is read under a minimum
 * transfer rate, and a body the edge refuses is still read (and discarded, up to a bound) so that
 * the client sees the answer instead of a reset connection.
 */

export interface BodyRules {
  /** bodies up to this size (declared or chunked) are read whole before the upstream is contacted */
  bufferBytes: number
  /** after the grace period, a client sending a body slower than this on average is cut off (408) */
  minBytesPerSecond: number
  graceMs: number
}

export const DEFAULT_BODY_RULES: BodyRules = { bufferBytes: 64 * 1024, minBytesPerSecond: 1024, graceMs: 10_000 }

/** How much of a refused body is read and discarded before the connection is closed instead. */
export function drainBound(bodyLimit: number): number {
  return Math.max(2 * bodyLimit, 1024 * 1024)
}

export function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0
}

interface Watched {
  startBytes: number
  waitedMs: number
  onSlow: () => void
}

/**
 * The minimum-rate rule for every request body of one edge. Only time spent waiting for the client
 * counts (nothing buffered, nobody pausing the stream): while the edge waits on auth or the
 * upstream pushes back, the client is not the slow one. A client is cut once its waiting time
 * exceeds the grace period plus the time its bytes so far would take at the minimum rate.
 */
export class SlowBodyWatch {
  private readonly active = new Map<IncomingMessage, Watched>()
  private timer: NodeJS.Timeout | undefined
  private last = 0

  constructor(
    private readonly rules: BodyRules,
    private readonly tickMs = 500
  ) {}

  watch(req: IncomingMessage, onSlow: () => void): void {
    if (req.complete || this.active.has(req)) return
    this.active.set(req, { startBytes: req.socket.bytesRead, waitedMs: 0, onSlow })
    req.once('close', () => this.active.delete(req))
    if (!this.timer) {
      this.last = Date.now()
      this.timer = setInterval(() => this.tick(), this.tickMs).unref()
    }
  }

  private tick(): void {
    const now = Date.now()
    const elapsed = now - this.last
    this.last = now
    for (const [req, w] of this.active) {
      if (req.complete || req.socket.destroyed) {
        this.active.delete(req)
        continue
      }
      const waiting = req.readableLength === 0 && req.readableFlowing !== false
      if (!waiting) continue
      w.waitedMs += elapsed
      const received = req.socket.bytesRead - w.startBytes
      if (w.waitedMs > this.rules.graceMs + (received / this.rules.minBytesPerSecond) * 1000) {
        this.active.delete(req)
        w.onSlow()
      }
    }
    if (this.active.size === 0) this.close()
  }

  close(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}

export type BodyRead =
  | { kind: 'complete'; body: Buffer }
  | { kind: 'too-large' }
  /** more than `bufferBytes` of a chunked body: the rest streams, `head` already read */
  | { kind: 'overflow'; head: Buffer[] }
  | { kind: 'closed' }

/** Reads a body up to `bufferBytes` (and never past `limit`) into memory. */
export function readBody(req: IncomingMessage, limit: number, bufferBytes: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (r: BodyRead) => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('close', onClose)
      resolve(r)
    }
    const onData = (c: Buffer) => {
      size += c.length
      chunks.push(c)
      if (size > limit) return done({ kind: 'too-large' })
      if (size > bufferBytes) {
        req.pause()
        done({ kind: 'overflow', head: chunks })
      }
    }
    const onEnd = () => done({ kind: 'complete', body: Buffer.concat(chunks, size) })
    const onClose = () => done({ kind: 'closed' })
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('close', onClose)
  })
}

/**
 * Reads and discards what is left of a body the edge answered without relaying, so the client can
 * finish sending and read the answer (closing on an unread body resets the connection, and `fetch`
 * then reports EPIPE instead of the status). Past `maxBytes` the connection is closed.
 */
export function discardBody(req: IncomingMessage, maxBytes: number): void {
  if (req.complete) return
  let seen = 0
  req.on('data', (c: Buffer) => {
    seen += c.length
    if (seen > maxBytes) req.socket.destroy()
  })
  req.resume()
}

export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError'
}

/** Passes a streamed body through, failing once it exceeds the route's limit. */
export class BodyLimit extends Transform {
  private seen = 0
  constructor(private readonly limit: number) {
    super()
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length
    if (this.seen > this.limit) return cb(new BodyTooLargeError())
    cb(null, chunk)
  }
}

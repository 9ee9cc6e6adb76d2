import type { IncomingMessage, ServerResponse } from 'node:http'
import { PassThrough, type Readable } from 'node:stream'
import { Pool, type Dispatcher } from 'undici'
import { ErrorCode, type Route, type ServiceName } from '@palisade/contracts'
import { HOP } from './headers.js'
import { EDGE_SECURITY_HEADERS, logPath, sendProblem } from './responses.js'
import { discardBody, drainBound } from './request-body.js'
import { IDEMPOTENT_METHODS, UpstreamPool, cutOff, notDelivered } from './balancer.js'

/**
 * Relaying plain HTTP requests to a service's instances over undici: one keep-alive Pool per
 * instance URL, request and response bodies streamed with backpressure, no stream objects in
 * between for bodies read whole. (WebSocket handshakes still go through http-proxy-3.)
 */

/** What the edge knows of one request while it is relayed. */
export interface EdgeState {
  requestId: string
  started: number
  route?: Route
  timedOut?: boolean
  tooLarge?: boolean
  slow?: boolean
  /** stops the upstream request, if one is under way */
  cancel?: () => void
}

/** The body to relay: none, one read whole (may be sent again), or a stream (sent once). */
export type RelayBody = { kind: 'none' } | { kind: 'whole'; body: Buffer } | { kind: 'stream'; body: Readable }

/** Upstream response headers that are the edge's to decide or only meant for one hop. */
const DROPPED_RESPONSE_HEADERS = new Set([...HOP, 'x-powered-by'])
const SECURITY_NAMES = Object.keys(EDGE_SECURITY_HEADERS)
/** Response bodies up to this size (declared by the upstream) are held and sent with the head. */
const SMALL_BODY = 16 * 1024
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

export interface Upstreams {
  /** the instances of a service (undefined: it does not run) */
  instances(service: ServiceName): UpstreamPool | undefined
  relay(req: IncomingMessage, res: ServerResponse, service: ServiceName, state: EdgeState, body: RelayBody): void
  close(): Promise<void>
}

export function createUpstreams(
  upstreams: Partial<Record<ServiceName, string | readonly string[]>>,
  opts: { proxyTimeoutMs: number; downMs?: number; log?: (entry: Record<string, unknown>) => void }
): Upstreams {
  const { proxyTimeoutMs, log } = opts
  const clients = new Map<URL, Pool>()
  const pools = new Map<ServiceName, UpstreamPool>()
  for (const [service, urls] of Object.entries(upstreams)) {
    const list = (typeof urls === 'string' ? [urls] : (urls ?? [])).map((u) => new URL(u))
    for (const u of list) clients.set(u, new Pool(u.origin, { connections: 512, keepAliveTimeout: 30_000 }))
    if (list.length > 0) pools.set(service as ServiceName, new UpstreamPool(list, opts.downMs))
  }

  /** The request could not be relayed (and is not tried again): the matching answer. */
  function fail(err: Error, req: IncomingMessage, res: ServerResponse, st: EdgeState): void {
    if (st.slow || res.destroyed) return
    if (st.tooLarge) {
      discardBody(req, drainBound(st.route?.bodyLimit ?? 0))
      return sendProblem(req, res, 413, ErrorCode.bodyTooLarge, 'Request body is too large', st.requestId)
    }
    if (res.headersSent) return void res.destroy()
    if (st.timedOut) return sendProblem(req, res, 504, ErrorCode.timeout, 'The service did not answer in time', st.requestId)
    log?.({ level: 'warn', msg: 'upstream failed', err: err.message, path: logPath(req.url), service: st.route?.service })
    sendProblem(req, res, 502, ErrorCode.badGateway, 'The service is unavailable', st.requestId)
  }

  return {
    instances: (service) => pools.get(service),
    relay(req, res, service, state, body) {
      const pool = pools.get(service)!
      const headers = req.headers
      // undici frames the body itself (chunked when no length is known) and refuses these.
      delete headers['transfer-encoding']
      delete headers.expect
      const path = req.url ?? '/'
      const method = req.method ?? 'GET'
      const tried = new Set<URL>()
      const attempt = (first: boolean): void => {
        const target = pool.pick(tried)!
        tried.add(target)
        const sent = body.kind === 'none' ? null : body.kind === 'whole' ? body.body : first ? isolate(body.body) : null
        const streamed = body.kind === 'stream'
        const handler = new Relay(res, state, streamed ? proxyTimeoutMs : 0, (err) => {
          const refused = notDelivered(err)
          if (refused) pool.markDown(target)
          const again =
            body.kind !== 'stream' &&
            tried.size < pool.size &&
            !res.headersSent &&
            !res.destroyed &&
            !state.timedOut &&
            !state.slow &&
            !state.tooLarge &&
            (refused || (cutOff(err) && IDEMPOTENT_METHODS.has(method)))
          if (!again) return fail(err, req, res, state)
          log?.({ level: 'warn', msg: 'retrying on another instance', err: (err as NodeJS.ErrnoException).code ?? err.message, path: logPath(req.url) })
          attempt(false)
        })
        clients.get(target)!.dispatch(
          {
            path,
            method: method as Dispatcher.HttpMethod,
            headers: headers as Record<string, string | string[]>,
            body: sent,
            // A streamed body may take long to send: its timer (in Relay) restarts on every chunk.
            headersTimeout: streamed ? 0 : proxyTimeoutMs,
            bodyTimeout: proxyTimeoutMs
          },
          handler
        )
      }
      attempt(true)
    },
    async close() {
      await Promise.all([...clients.values()].map((c) => c.destroy()))
    }
  }
}

/**
 * undici destroys a body stream when the upstream request fails; the client's own request must
 * survive that, so the edge can still answer it (408, 413, 502).
 */
function isolate(body: Readable): Readable {
  if (!('socket' in body)) return body
  const through = new PassThrough()
  body.pipe(through)
  return through
}

/** One upstream attempt: the response goes straight to the client's ServerResponse. */
class Relay implements Dispatcher.DispatchHandlers {
  private abort?: (err?: Error) => void
  private resume?: () => void
  private timer?: NodeJS.Timeout
  private cancelled = false
  private done = false
  /** the body so far, when it is small enough to send in one write with the head */
  private small?: Buffer[]

  constructor(
    private readonly res: ServerResponse,
    private readonly state: EdgeState,
    private readonly sendTimeoutMs: number,
    private readonly onFailure: (err: Error) => void
  ) {
    state.cancel = () => this.cancel()
    // A client that goes away (or is cut off) cancels the upstream request.
    res.once('close', state.cancel)
  }

  private cancel(): void {
    if (this.done) return
    this.cancelled = true
    this.abort?.()
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.cancelled) return abort()
    this.abort = abort
    if (this.sendTimeoutMs > 0 && !this.timer) {
      this.timer = setTimeout(() => {
        this.state.timedOut = true
        this.cancel()
      }, this.sendTimeoutMs)
    }
  }

  onBodySent(): void {
    this.timer?.refresh()
  }

  onHeaders(statusCode: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true
    clearTimeout(this.timer)
    const res = this.res
    if (res.destroyed) {
      this.cancel()
      return false
    }
    // A flat [name, value, ...] list as writeHead takes it: no header object built per response.
    const headers: string[] = []
    const missing = new Set(SECURITY_NAMES)
    let length = -1
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1').toLowerCase()
      if (DROPPED_RESPONSE_HEADERS.has(name)) continue
      const value = raw[i + 1]!.toString('latin1')
      if (name === 'content-length') length = Number(value)
      missing.delete(name)
      headers.push(name, value)
    }
    for (const name of missing) headers.push(name, EDGE_SECURITY_HEADERS[name]!)
    try {
      if (statusText) res.writeHead(statusCode, statusText, headers)
      else res.writeHead(statusCode, headers)
    } catch (err) {
      // A header Node refuses to send: nothing went out yet, so the client gets a 502.
      this.abort?.(err as Error)
      return false
    }
    // A small body of known length is sent with the head when it is complete, as one latin1
    // string Node joins to the head: a Buffer would be queued as a chunk of its own, and chunks
    // written as they come are one socket write each until the response ends.
    if (length >= 0 && length <= SMALL_BODY) this.small = []
    this.resume = resume
    return true
  }

  onData(chunk: Buffer): boolean {
    if (this.small) {
      this.small.push(chunk)
      return true
    }
    if (this.res.write(chunk)) return true
    this.res.once('drain', this.resume!)
    return false
  }

  onComplete(): void {
    this.done = true
    const small = this.small
    if (!small || small.length === 0) return void this.res.end()
    this.res.end((small.length === 1 ? small[0]! : Buffer.concat(small)).toString('latin1'), 'latin1')
  }

  onError(err: Error): void {
    if (this.done) return
    this.done = true
    clearTimeout(this.timer)
    this.res.off('close', this.state.cancel!)
    if (TIMEOUTS.has((err as { code?: string }).code ?? '')) this.state.timedOut = true
    if (this.cancelled && this.res.destroyed) return
    this.onFailure(err)
  }
}

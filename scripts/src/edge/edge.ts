import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { randomUUID } from 'node:crypto'
import { ProxyServer } from 'http-proxy-3'
import {
  ErrorCode,
  MAX_CONNECTIONS_PER_CLIENT,
  MAX_REQUEST_SECONDS,
  REQUEST_ID_HEADER,
  ROUTES,
  isNeverRoutable,
  normalizeRequestPath,
  resolveRoute,
  type Route,
  type ServiceName
} from '@palisade/contracts'
import { HOP, scrubProtectedHeaders, stripHopByHop } from './headers.js'
import { capConnectionsPerClient } from './client-cap.js'
import { EDGE_SECURITY_HEADERS, logPath, sendProblem, writeRaw, writeRawProblem } from './responses.js'
import { BodyLimit, DEFAULT_BODY_RULES, SlowBodyWatch, discardBody, drainBound, hasBody, readBody, type BodyRules } from './request-body.js'
import { injectTraceHeaders, SERVICE_ATTRIBUTE, startServerSpan, type ServiceMetrics } from '@palisade/platform'
import { REQUEST_ID, applyIdentity, createVerifier, type AuthAnswer } from './verify.js'
import { type UpstreamPool, accepts } from './balancer.js'
import { createUpstreams, type EdgeState, type RelayBody } from './upstream.js'

export { EDGE_SECURITY_HEADERS } from './responses.js'
export { scrubProtectedHeaders } from './headers.js'

/**
 * The local edge: what Traefik does in production (ARCHITECTURE.md "ForwardAuth semantics"), for
 * hosts without Docker or Traefik. Built on node:http, undici (requests, upstream.ts) and
 * http-proxy-3 (WebSocket handshakes); these modules only decide *whether*, *when* and *with which
 * headers* a request is relayed.
 *
 * For every connection: at most `maxConnectionsPerClient` per client address (429 and closed).
 * For every request and WebSocket handshake:
 *  1. the raw path must pass `normalizeRequestPath` (400) and resolve to a route that is not
 *     never-routable (404); bodiless routes take GET/HEAD only (404, like Traefik's method rule);
 *  2. every client-sent spelling of the identity and forwarding headers is deleted;
 *  3. forward-auth routes: GET auth /auth/verify with the original headers minus hop-by-hop ones
 *     (a client's Connection header cannot make credentials, Origin or forwarding headers
 *     hop-by-hop), X-Forwarded-Method/Proto/Host/Uri/For rebuilt here, no body. Non-2xx: auth's
 *     status, headers and body go back to the client as they are (raw on the socket for a
 *     handshake). 2xx: auth's identity headers and X-Request-Id are copied onto the request;
 *  4. the body: over the route's limit → 413; up to 64 KiB read whole before the upstream is
 *     contacted, larger ones streamed; all under a minimum transfer rate (408 below it); refused
 *     bodies are read and discarded up to a bound so the client sees the answer;
 *  5. the request is relayed without hop-by-hop headers, with X-Forwarded-* rebuilt, a request id,
 *     a proxy timeout (504) and a 502 problem when the upstream fails.
 *
 * A service may have several instances (and auth's /verify several URLs): round-robin with passive
 * health (balancer.ts). A request whose connection was refused goes to the next instance, whatever
 * its method; one cut off mid-way is repeated elsewhere only when its method is idempotent. Either
 * way only a body read whole can be sent twice. A WebSocket goes to an instance that accepts a
 * connection.
 */

export interface EdgeOptions {
  /** base URL(s) of every routed service that runs, e.g. `{ auth: 'http://127.0.0.1:3101' }`; several are balanced */
  upstreams: Partial<Record<ServiceName, string | readonly string[]>>
  /** auth's ForwardAuth endpoint, e.g. `http://127.0.0.1:3101/auth/verify`; several are balanced */
  authVerifyUrl: string | readonly string[]
  /** how long an instance that refused a connection is left out (default DEFAULT_DOWN_MS) */
  downMs?: number
  routes?: readonly Route[]
  /** no answer from an upstream within this → 504 (default 60 s; WebSockets are not affected) */
  proxyTimeoutMs?: number
  /** /auth/verify must answer within this → 504 (default 5 s) */
  authTimeoutMs?: number
  /** value of X-Forwarded-Proto (default `http`; `https` behind a TLS terminator) */
  forwardedProto?: 'http' | 'https'
  /** open connections one client address (IPv6: its /64) may hold (default MAX_CONNECTIONS_PER_CLIENT) */
  maxConnectionsPerClient?: number
  /** buffering threshold and minimum transfer rate of request bodies (default DEFAULT_BODY_RULES) */
  bodyRules?: Partial<BodyRules>
  /** the whole request head must arrive within this (default 30 s) */
  headersTimeoutMs?: number
  /** called once per finished request (access log, unless `logRequests` is false) and on errors */
  log?: (entry: Record<string, unknown>) => void
  /** whether `log` gets an `info` entry per request (default true; false when info lines are dropped anyway) */
  logRequests?: boolean
  /** counts every finished request (`palisade_http_*` with service `edge`, route = the route table's pattern) */
  metrics?: ServiceMetrics
}

export interface Edge {
  server: http.Server
  listen(port: number, host?: string): Promise<number>
  close(): Promise<void>
}

const BODYLESS_METHODS = new Set(['GET', 'HEAD'])
const NO_BODY: RelayBody = { kind: 'none' }

const STATE = Symbol('palisade-edge')
type EdgeRequest = IncomingMessage & { [STATE]?: EdgeState }

type Admission = { ok: true; route: Route; state: EdgeState } | { ok: false; status: number; code: string; detail: string; state: EdgeState }

export function createEdge(opts: EdgeOptions): Edge {
  const routes = opts.routes ?? ROUTES
  const proxyTimeoutMs = opts.proxyTimeoutMs ?? 60_000
  const proto = opts.forwardedProto ?? 'http'
  const rules: BodyRules = { ...DEFAULT_BODY_RULES, ...opts.bodyRules }
  const verifier = createVerifier(opts.authVerifyUrl, opts.authTimeoutMs ?? 5_000, proto, opts.downMs)
  const slowBodies = new SlowBodyWatch(rules)
  const upstreams = createUpstreams(opts.upstreams, { proxyTimeoutMs, downMs: opts.downMs, log: opts.log })

  // WebSocket handshakes only; plain requests go over undici (upstream.ts).
  const proxy = new ProxyServer({ xfwd: false, changeOrigin: false, ws: true, proxyTimeout: proxyTimeoutMs })
  const onProxyError = (err: Error, req: IncomingMessage, resOrSocket: ServerResponse | Duplex): void => {
    const st = (req as EdgeRequest)[STATE]
    if (resOrSocket instanceof http.ServerResponse) return void resOrSocket.destroy()
    const socket = resOrSocket as Duplex & { bytesWritten?: number }
    // After the 101 the socket carries WebSocket frames: a reset then is just a closed connection.
    if ((socket.bytesWritten ?? 0) > 0) return void socket.destroy()
    opts.log?.({ level: 'warn', msg: 'websocket upstream failed', err: err.message, path: logPath(req.url) })
    writeRawProblem(socket, 502, ErrorCode.badGateway, 'The service is unavailable', st?.requestId)
  }
  proxy.on('error', onProxyError)

  const accessLog = opts.log && opts.logRequests !== false ? opts.log : undefined

  function finish(req: EdgeRequest, res: ServerResponse): void {
    if (!opts.metrics && !accessLog) return
    res.once('finish', () => {
      const st = req[STATE]
      if (opts.metrics) {
        const route = st?.route ? (st.route.match === 'prefix' ? `${st.route.path}/*` : st.route.path) : 'unmatched'
        const labels = { service: 'edge', method: req.method ?? 'GET', route, status_code: String(res.statusCode) }
        opts.metrics.httpRequests.inc(labels)
        if (st) opts.metrics.httpDuration.observe(labels, (Date.now() - st.started) / 1000)
      }
      accessLog?.({
        level: 'info',
        reqId: st?.requestId,
        method: req.method,
        path: logPath(req.url),
        status: res.statusCode,
        ms: st ? Date.now() - st.started : undefined
      })
    })
  }

  /** Step 1 for both HTTP and WebSocket: request id, path check, route. */
  function admit(req: EdgeRequest): Admission {
    const incoming = req.headers[REQUEST_ID_HEADER]
    const state: EdgeState = { requestId: typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID(), started: Date.now() }
    req[STATE] = state
    const path = normalizeRequestPath(req.url ?? '')
    if (path === undefined) return { ok: false, status: 400, code: ErrorCode.validationFailed, detail: 'Malformed request path', state }
    const route = isNeverRoutable(path) ? undefined : resolveRoute(path, routes)
    if (!route || (route.bodyLimit === 0 && !BODYLESS_METHODS.has(req.method ?? ''))) {
      return { ok: false, status: 404, code: ErrorCode.notFound, detail: 'Not found', state }
    }
    state.route = route
    return { ok: true, route, state }
  }

  function forwardedHeaders(req: EdgeRequest, state: EdgeState, ws: boolean): void {
    const h = req.headers
    h['x-forwarded-for'] = req.socket.remoteAddress ?? ''
    h['x-forwarded-proto'] = ws ? (proto === 'https' ? 'wss' : 'ws') : proto
    h['x-forwarded-host'] = h.host ?? ''
    h['x-forwarded-port'] = String(req.socket.localPort ?? '')
    h[REQUEST_ID_HEADER] = state.requestId
  }

  function relayDenial(res: ServerResponse, answer: AuthAnswer, state: EdgeState): void {
    const headers: Record<string, string | string[]> = { ...EDGE_SECURITY_HEADERS }
    for (const [k, v] of Object.entries(answer.headers)) {
      if (v === undefined || HOP.has(k) || k === 'content-length') continue
      headers[k] = v
    }
    headers[REQUEST_ID_HEADER] ??= state.requestId
    headers['content-length'] = String(answer.body.length)
    res.writeHead(answer.status, headers)
    res.end(answer.body)
  }

  /** Answers without relaying; what is left of the body is read and discarded up to a bound. */
  function refuse(req: EdgeRequest, res: ServerResponse, state: EdgeState, status: number, code: string, detail: string): void {
    discardBody(req, drainBound(state.route?.bodyLimit ?? 0))
    sendProblem(req, res, status, code, detail, state.requestId)
  }

  /** Below the minimum transfer rate: 408 if nothing was answered yet, then the connection goes. */
  function cutSlowClient(req: EdgeRequest, res: ServerResponse, state: EdgeState): void {
    state.slow = true
    opts.log?.({ level: 'warn', msg: 'request body below the minimum rate', reqId: state.requestId, path: logPath(req.url), client: req.socket.remoteAddress })
    state.cancel?.()
    if (res.headersSent) return void req.socket.destroy()
    sendProblem(req, res, 408, ErrorCode.timeout, 'The request body arrived too slowly', state.requestId, { connection: 'close' })
  }

  /** auth's /verify answer for a request, or (logged) that auth could not be asked and whether it timed out. */
  async function askAuth(req: EdgeRequest, state: EdgeState): Promise<{ answer: AuthAnswer } | { timedOut: boolean }> {
    try {
      return { answer: await verifier.verify(req, state.requestId) }
    } catch (err) {
      opts.log?.({ level: 'error', msg: 'auth /verify failed', err: (err as Error).message })
      return { timedOut: /timeout/i.test((err as Error).message) || /TIMEOUT/.test((err as { code?: string }).code ?? '') }
    }
  }

  /**
   * Starts the request's trace, or continues the client's `traceparent`, and hands it on: auth's
   * /verify and the upstream both receive the edge span as their parent.
   */
  function startTrace(req: EdgeRequest, res: ServerResponse, route: Route | undefined): void {
    const pattern = route ? (route.match === 'prefix' ? `${route.path}/*` : route.path) : 'unmatched'
    const { span, ctx } = startServerSpan(
      `edge ${req.method} ${pattern}`,
      { [SERVICE_ATTRIBUTE]: 'edge', 'http.request.method': req.method ?? 'GET', 'http.route': pattern },
      req.headers
    )
    delete req.headers.traceparent
    delete req.headers.tracestate
    injectTraceHeaders(req.headers as Record<string, string>, ctx)
    if (!span.isRecording()) return
    res.once('close', () => {
      span.setAttribute('http.response.status_code', res.statusCode)
      span.end()
    })
  }

  async function onRequest(req: EdgeRequest, res: ServerResponse): Promise<void> {
    finish(req, res)
    const a = admit(req)
    const { state } = a
    startTrace(req, res, state.route)
    if (hasBody(req)) slowBodies.watch(req, () => cutSlowClient(req, res, state))
    if (!a.ok) return refuse(req, res, state, a.status, a.code, a.detail)
    const { route } = a
    scrubProtectedHeaders(req.headers)
    if (route.access === 'forward-auth') {
      const asked = await askAuth(req, state)
      if (!('answer' in asked))
        return refuse(
          req,
          res,
          state,
          asked.timedOut ? 504 : 502,
          asked.timedOut ? ErrorCode.timeout : ErrorCode.badGateway,
          'Authentication service unavailable'
        )
      const { answer } = asked
      if (state.slow || res.headersSent) return
      if (answer.status < 200 || answer.status >= 300) {
        discardBody(req, drainBound(route.bodyLimit))
        return relayDenial(res, answer, state)
      }
      state.requestId = applyIdentity(req, answer) ?? state.requestId
    }
    if (!upstreams.instances(route.service)) return refuse(req, res, state, 502, ErrorCode.badGateway, `${route.service} is not running`)
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > route.bodyLimit) {
      // Too much to read and discard: answer and close (the client may see a reset instead).
      if (declared > drainBound(route.bodyLimit))
        return sendProblem(req, res, 413, ErrorCode.bodyTooLarge, 'Request body is too large', state.requestId, { connection: 'close' })
      return refuse(req, res, state, 413, ErrorCode.bodyTooLarge, 'Request body is too large')
    }
    forwardedHeaders(req, state, false)
    const chunked = req.headers['transfer-encoding'] !== undefined
    // Only a body read whole can be sent to a second instance (balancer.ts, upstream.ts).
    let body: RelayBody = hasBody(req) ? { kind: 'stream', body: req } : NO_BODY
    if (hasBody(req) && (chunked || declared <= rules.bufferBytes)) {
      // Small bodies are read whole first: a slow sender holds only edge memory, never a socket
      // to the service.
      const read = await readBody(req, route.bodyLimit, rules.bufferBytes)
      if (read.kind === 'closed' || state.slow) return
      if (read.kind === 'too-large') return refuse(req, res, state, 413, ErrorCode.bodyTooLarge, 'Request body is too large')
      if (read.kind === 'complete') {
        delete req.headers['transfer-encoding']
        req.headers['content-length'] = String(read.body.length)
        body = { kind: 'whole', body: read.body }
      } else {
        body = { kind: 'stream', body: streamRest(req, state, route, read.head) }
      }
    }
    stripHopByHop(req.headers, { chunked: req.headers['transfer-encoding'] !== undefined })
    upstreams.relay(req, res, route.service, state, body)
  }

  /** A chunked body past the buffering threshold: what was read, then the rest, under the limit. */
  function streamRest(req: EdgeRequest, state: EdgeState, route: Route, head: Buffer[]): BodyLimit {
    const limit = new BodyLimit(route.bodyLimit)
    limit.on('error', () => {
      state.tooLarge = true
      req.unpipe(limit)
      state.cancel?.()
    })
    for (const c of head) limit.write(c)
    req.pipe(limit)
    return limit
  }

  async function onUpgrade(req: EdgeRequest, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy())
    const a = admit(req)
    if (!a.ok) return writeRawProblem(socket, a.status, a.code, a.detail, a.state.requestId)
    const { route, state } = a
    if (!route.websocket) return writeRawProblem(socket, 404, ErrorCode.notFound, 'Not found', state.requestId)
    scrubProtectedHeaders(req.headers)
    if (route.access === 'forward-auth') {
      const asked = await askAuth(req, state)
      if (!('answer' in asked)) return writeRawProblem(socket, 502, ErrorCode.badGateway, 'Authentication service unavailable', state.requestId)
      const { answer } = asked
      if (answer.status < 200 || answer.status >= 300) {
        const headers = { ...answer.headers }
        headers[REQUEST_ID_HEADER] ??= state.requestId
        return writeRaw(socket, answer.status, headers, answer.body)
      }
      state.requestId = applyIdentity(req, answer) ?? state.requestId
    }
    const pool = upstreams.instances(route.service)
    const target = pool && (await liveTarget(pool))
    if (!target) return writeRawProblem(socket, 502, ErrorCode.badGateway, `${route.service} is not running`, state.requestId)
    if (socket.destroyed) return
    forwardedHeaders(req, state, true)
    stripHopByHop(req.headers, { upgrade: true })
    accessLog?.({ level: 'info', reqId: state.requestId, method: 'GET', path: logPath(req.url), upgrade: 'websocket', ms: Date.now() - state.started })
    upgraded.add(socket)
    socket.once('close', () => upgraded.delete(socket))
    proxy.ws(req, socket, head, { target })
  }

  /** An instance that accepts a connection now (a WebSocket cannot be sent elsewhere once relayed). */
  async function liveTarget(pool: UpstreamPool): Promise<URL | undefined> {
    if (pool.size === 1) return pool.pick()
    const tried = new Set<URL>()
    for (let t = pool.pick(tried); t; t = pool.pick(tried)) {
      tried.add(t)
      if (await accepts(t)) return t
      pool.markDown(t)
    }
    return undefined
  }

  const upgraded = new Set<Duplex>()
  const server = http.createServer({
    keepAliveTimeout: 65_000,
    requestTimeout: MAX_REQUEST_SECONDS * 1000,
    headersTimeout: opts.headersTimeoutMs ?? 30_000,
    // Node checks the two timeouts above only this often (default 30 s, which doubles them).
    connectionsCheckingInterval: 1000
  })
  capConnectionsPerClient(server, opts.maxConnectionsPerClient ?? MAX_CONNECTIONS_PER_CLIENT, opts.log)
  server.on('request', (req: EdgeRequest, res: ServerResponse) => {
    onRequest(req, res).catch((err: Error) => {
      opts.log?.({ level: 'error', msg: 'edge failure', err: err.message })
      sendProblem(req, res, 502, ErrorCode.badGateway, 'Bad gateway', req[STATE]?.requestId)
    })
  })
  server.on('upgrade', (req: EdgeRequest, socket: Duplex, head: Buffer) => {
    onUpgrade(req, socket, head).catch(() => socket.destroy())
  })
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Node's header and request timeouts land here: a slow client gets its 408.
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
    if (socket.writable) socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`)
    else socket.destroy()
  })

  return {
    server,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve((server.address() as { port: number }).port)
        })
      })
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
        for (const s of upgraded) s.destroy()
      })
      slowBodies.close()
      await Promise.all([upstreams.close(), verifier.close()])
    }
  }
}

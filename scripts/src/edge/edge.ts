import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { Transform, type TransformCallback } from 'node:stream'
import { randomUUID } from 'node:crypto'
import { ProxyServer } from 'http-proxy-3'
import { Pool } from 'undici'
import {
  ErrorCode,
  HOP_BY_HOP_HEADERS,
  IDENTITY_HEADER_NAMES,
  MAX_REQUEST_SECONDS,
  NEVER_ROUTABLE_PATHS,
  PROBLEM_CONTENT_TYPE,
  REQUEST_ID_HEADER,
  ROUTES,
  isProtectedHeader,
  normalizeRequestPath,
  resolveRoute,
  type Route,
  type ServiceName
} from '@palisade/contracts'
import { problemBody } from '@palisade/platform'

/**
 * The local edge: what Traefik does in production (ARCHITECTURE.md "ForwardAuth semantics"), for
 * hosts without Docker or Traefik. Built on http-proxy-3 (request and WebSocket relaying) and
 * node:http; this file only decides *whether* and *with which headers* a request is relayed.
 *
 * For every request and WebSocket handshake:
 *  1. the raw path must pass `normalizeRequestPath` (400) and resolve to a route that is not
 *     never-routable (404); bodiless routes take GET/HEAD only (404, like Traefik's method rule);
 *  2. every client-sent spelling of the identity and forwarding headers is deleted;
 *  3. forward-auth routes: GET auth /auth/verify with the original headers minus hop-by-hop ones,
 *     X-Forwarded-Method/Proto/Host/Uri/For rebuilt here, no body. Non-2xx: auth's status, headers
 *     (Location, Set-Cookie, ...) and body go back to the client as they are (raw on the socket for
 *     a handshake). 2xx: auth's identity headers and X-Request-Id are copied onto the request;
 *  4. the request is relayed with X-Forwarded-* rebuilt, a request id, the route's body limit (413)
 *     enforced while streaming, a proxy timeout (504) and a 502 problem when the upstream fails.
 */

export interface EdgeOptions {
  /** base URL of every routed service that runs, e.g. `{ auth: 'http://127.0.0.1:3101' }` */
  upstreams: Partial<Record<ServiceName, string>>
  /** auth's ForwardAuth endpoint, e.g. `http://127.0.0.1:3101/auth/verify` */
  authVerifyUrl: string
  routes?: readonly Route[]
  /** no answer from an upstream within this → 504 (default 60 s; WebSockets are not affected) */
  proxyTimeoutMs?: number
  /** /auth/verify must answer within this → 504 (default 5 s) */
  authTimeoutMs?: number
  /** value of X-Forwarded-Proto (default `http`; `https` behind a TLS terminator) */
  forwardedProto?: 'http' | 'https'
  /** called once per finished request (access log) and on errors */
  log?: (entry: Record<string, unknown>) => void
}

export interface Edge {
  server: http.Server
  listen(port: number, host?: string): Promise<number>
  close(): Promise<void>
}

/** The path as logged: without the query string, which may carry search terms. */
function logPath(url: string | undefined): string {
  const q = (url ?? '/').indexOf('?')
  return q === -1 ? (url ?? '/') : `${url!.slice(0, q)}?…`
}

/** Response headers every answer carries unless the upstream set its own. */
export const EDGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer'
}

const HOP = new Set<string>([...HOP_BY_HOP_HEADERS, 'proxy-connection', 'http2-settings'])
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
const BODYLESS_METHODS = new Set(['GET', 'HEAD'])
const EMPTY = Buffer.alloc(0)

function isNeverRoutable(path: string): boolean {
  return NEVER_ROUTABLE_PATHS.some((p) => path === p || path.startsWith(p + '/'))
}

/** Hop-by-hop headers of a message: the fixed list plus whatever its Connection header names. */
function hopHeaders(headers: IncomingHttpHeaders): Set<string> {
  const c = headers.connection
  if (!c) return HOP
  const extra = (Array.isArray(c) ? c.join(',') : c).split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)
  return extra.length === 0 ? HOP : new Set([...HOP, ...extra])
}

/** Deletes every client copy of a protected header (identity, forwarding) in any spelling. */
export function scrubProtectedHeaders(headers: IncomingHttpHeaders): void {
  for (const name of Object.keys(headers)) if (isProtectedHeader(name)) delete headers[name]
}

class BodyLimit extends Transform {
  seen = 0
  constructor(private readonly limit: number) {
    super()
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length
    if (this.seen > this.limit) return cb(new BodyTooLargeError())
    cb(null, chunk)
  }
}
class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError'
}

interface EdgeState {
  requestId: string
  started: number
  route?: Route
  status?: number
  timedOut?: boolean
  tooLarge?: boolean
  proxyReq?: http.ClientRequest
}
const STATE = Symbol('palisade-edge')
type EdgeRequest = IncomingMessage & { [STATE]?: EdgeState }

interface AuthAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export function createEdge(opts: EdgeOptions): Edge {
  const routes = opts.routes ?? ROUTES
  const proxyTimeoutMs = opts.proxyTimeoutMs ?? 60_000
  const authTimeoutMs = opts.authTimeoutMs ?? 5_000
  const proto = opts.forwardedProto ?? 'http'
  const authUrl = new URL(opts.authVerifyUrl)
  const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 128, scheduling: 'lifo', noDelay: true } as http.AgentOptions)
  // The auth sub-request runs on every forward-authed request: undici's pool (keep-alive,
  // pipelining off) costs a fraction of node:http's client per call.
  const authPool = new Pool(authUrl.origin, { connections: 256, keepAliveTimeout: 30_000 })
  const authPath = authUrl.pathname + authUrl.search
  const targets = new Map<ServiceName, URL>()
  for (const [service, url] of Object.entries(opts.upstreams)) if (url) targets.set(service as ServiceName, new URL(url))

  const proxy = new ProxyServer({ xfwd: false, changeOrigin: false, ws: true, agent: upstreamAgent, proxyTimeout: proxyTimeoutMs })

  proxy.on('proxyReq', (proxyReq, req) => {
    const st = (req as EdgeRequest)[STATE]
    if (!st) return
    st.proxyReq = proxyReq
    proxyReq.once('timeout', () => {
      st.timedOut = true
    })
  })
  proxy.on('proxyRes', (proxyRes) => {
    const h = proxyRes.headers
    for (const [k, v] of Object.entries(EDGE_SECURITY_HEADERS)) if (h[k] === undefined) h[k] = v
    delete h['x-powered-by']
    delete h['keep-alive']
  })
  proxy.on('error', (err, req, resOrSocket) => {
    const st = (req as EdgeRequest)[STATE]
    if (resOrSocket instanceof http.ServerResponse) {
      const res = resOrSocket
      if (st?.tooLarge) return sendProblem(req, res, 413, ErrorCode.bodyTooLarge, 'Request body is too large', { connection: 'close' })
      if (res.headersSent) return void res.destroy()
      if (st?.timedOut) return sendProblem(req, res, 504, ErrorCode.timeout, 'The service did not answer in time')
      opts.log?.({ level: 'warn', msg: 'upstream failed', err: err.message, path: logPath(req.url), service: st?.route?.service })
      return sendProblem(req, res, 502, ErrorCode.badGateway, 'The service is unavailable')
    }
    const socket = resOrSocket as Duplex & { bytesWritten?: number }
    // After the 101 the socket carries WebSocket frames: a reset then is just a closed connection.
    if ((socket.bytesWritten ?? 0) > 0) return void socket.destroy()
    opts.log?.({ level: 'warn', msg: 'websocket upstream failed', err: err.message, path: logPath(req.url) })
    writeRawProblem(socket, 502, ErrorCode.badGateway, 'The service is unavailable', st?.requestId)
  })

  function finish(req: EdgeRequest, res: ServerResponse): void {
    res.once('finish', () => {
      const st = req[STATE]
      opts.log?.({ level: 'info', reqId: st?.requestId, method: req.method, path: logPath(req.url), status: res.statusCode, ms: st ? Date.now() - st.started : undefined })
    })
  }

  function sendProblem(req: IncomingMessage, res: ServerResponse, status: number, code: string, detail: string, extra: Record<string, string> = {}): void {
    if (res.headersSent) return void res.destroy()
    const st = (req as EdgeRequest)[STATE]
    const path = normalizeRequestPath(req.url ?? '') ?? undefined
    const body = JSON.stringify(problemBody(status, code, detail, path))
    res.writeHead(status, {
      ...EDGE_SECURITY_HEADERS,
      'content-type': PROBLEM_CONTENT_TYPE,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      ...(st ? { [REQUEST_ID_HEADER]: st.requestId } : {}),
      ...extra
    })
    res.end(req.method === 'HEAD' ? undefined : body)
  }

  function writeRawProblem(socket: Duplex, status: number, code: string, detail: string, requestId?: string): void {
    const body = JSON.stringify(problemBody(status, code, detail))
    writeRaw(socket, status, { 'content-type': PROBLEM_CONTENT_TYPE, 'cache-control': 'no-store', ...(requestId ? { [REQUEST_ID_HEADER]: requestId } : {}) }, Buffer.from(body))
  }

  function writeRaw(socket: Duplex, status: number, headers: IncomingHttpHeaders | Record<string, string>, body: Buffer): void {
    if (socket.destroyed || !socket.writable) return
    const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Unknown'}`]
    const all: Record<string, string | string[] | undefined> = { ...EDGE_SECURITY_HEADERS, ...headers }
    for (const [k, v] of Object.entries(all)) {
      const key = k.toLowerCase()
      if (v === undefined || HOP.has(key) || key === 'content-length') continue
      for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${String(one).replace(/[\r\n]/g, '')}`)
    }
    lines.push(`content-length: ${body.length}`, 'connection: close')
    socket.end(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body]))
  }

  /** Step 1 for both HTTP and WebSocket: request id, path check, route. */
  function admit(req: EdgeRequest): { ok: true; route: Route; state: EdgeState } | { ok: false; status: number; code: string; detail: string; state: EdgeState } {
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

  /** GET /auth/verify with the original headers (minus hop-by-hop), X-Forwarded-* rebuilt, no body. */
  async function verify(req: EdgeRequest, state: EdgeState): Promise<AuthAnswer> {
    const hop = hopHeaders(req.headers)
    const headers: Record<string, string | string[]> = {}
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || hop.has(k) || k === 'content-length' || k === 'host' || k === 'expect') continue
      headers[k] = v
    }
    headers['x-forwarded-method'] = req.method ?? 'GET'
    headers['x-forwarded-proto'] = proto
    headers['x-forwarded-host'] = req.headers.host ?? ''
    headers['x-forwarded-uri'] = req.url ?? '/'
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? ''
    headers[REQUEST_ID_HEADER] = state.requestId
    const res = await authPool.request({ path: authPath, method: 'GET', headers, headersTimeout: authTimeoutMs, bodyTimeout: authTimeoutMs })
    const status = res.statusCode
    const h = res.headers as IncomingHttpHeaders
    if (status >= 200 && status < 300) {
      await res.body.dump()
      return { status, headers: h, body: EMPTY }
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const c of res.body) {
      size += (c as Buffer).length
      if (size <= 64 * 1024) chunks.push(c as Buffer)
    }
    return { status, headers: h, body: Buffer.concat(chunks) }
  }

  /** Auth said yes: its identity headers (and request id) onto the upstream request. */
  function applyIdentity(req: EdgeRequest, answer: AuthAnswer, state: EdgeState): void {
    for (const name of IDENTITY_HEADER_NAMES) {
      const v = answer.headers[name]
      if (typeof v === 'string') req.headers[name] = v
    }
    const rid = answer.headers[REQUEST_ID_HEADER]
    if (typeof rid === 'string' && REQUEST_ID.test(rid)) state.requestId = rid
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
    const hop = hopHeaders(answer.headers)
    for (const [k, v] of Object.entries(answer.headers)) {
      if (v === undefined || hop.has(k) || k === 'content-length') continue
      headers[k] = v
    }
    headers[REQUEST_ID_HEADER] ??= state.requestId
    headers['content-length'] = String(answer.body.length)
    res.writeHead(answer.status, headers)
    res.end(answer.body)
  }

  async function onRequest(req: EdgeRequest, res: ServerResponse): Promise<void> {
    finish(req, res)
    const a = admit(req)
    if (!a.ok) {
      req.resume()
      return sendProblem(req, res, a.status, a.code, a.detail)
    }
    const { route, state } = a
    const target = targets.get(route.service)
    scrubProtectedHeaders(req.headers)
    if (route.access === 'forward-auth') {
      let answer: AuthAnswer
      try {
        answer = await verify(req, state)
      } catch (err) {
        opts.log?.({ level: 'error', msg: 'auth /verify failed', err: (err as Error).message })
        req.resume()
        const timedOut = /timeout/i.test((err as Error).message) || /TIMEOUT/.test((err as { code?: string }).code ?? '')
        return sendProblem(req, res, timedOut ? 504 : 502, timedOut ? ErrorCode.timeout : ErrorCode.badGateway, 'Authentication service unavailable')
      }
      if (answer.status < 200 || answer.status >= 300) {
        req.resume()
        return relayDenial(res, answer, state)
      }
      applyIdentity(req, answer, state)
    }
    if (!target) {
      req.resume()
      return sendProblem(req, res, 502, ErrorCode.badGateway, `${route.service} is not running`)
    }
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > route.bodyLimit) {
      req.resume()
      return sendProblem(req, res, 413, ErrorCode.bodyTooLarge, 'Request body is too large', { connection: 'close' })
    }
    forwardedHeaders(req, state, false)
    const chunked = req.headers['transfer-encoding'] !== undefined
    let buffer: BodyLimit | undefined
    if (chunked) {
      buffer = new BodyLimit(route.bodyLimit)
      buffer.on('error', () => {
        state.tooLarge = true
        req.unpipe(buffer!)
        req.resume()
        state.proxyReq?.destroy()
      })
      req.pipe(buffer)
    }
    proxy.web(req, res, { target, ...(buffer ? { buffer } : {}) })
  }

  async function onUpgrade(req: EdgeRequest, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy())
    const a = admit(req)
    if (!a.ok) return writeRawProblem(socket, a.status, a.code, a.detail, a.state.requestId)
    const { route, state } = a
    if (!route.websocket) return writeRawProblem(socket, 404, ErrorCode.notFound, 'Not found', state.requestId)
    scrubProtectedHeaders(req.headers)
    if (route.access === 'forward-auth') {
      let answer: AuthAnswer
      try {
        answer = await verify(req, state)
      } catch (err) {
        opts.log?.({ level: 'error', msg: 'auth /verify failed', err: (err as Error).message })
        return writeRawProblem(socket, 502, ErrorCode.badGateway, 'Authentication service unavailable', state.requestId)
      }
      if (answer.status < 200 || answer.status >= 300) {
        const headers = { ...answer.headers }
        headers[REQUEST_ID_HEADER] ??= state.requestId
        return writeRaw(socket, answer.status, headers, answer.body)
      }
      applyIdentity(req, answer, state)
    }
    const target = targets.get(route.service)
    if (!target) return writeRawProblem(socket, 502, ErrorCode.badGateway, `${route.service} is not running`, state.requestId)
    forwardedHeaders(req, state, true)
    opts.log?.({ level: 'info', reqId: state.requestId, method: 'GET', path: logPath(req.url), upgrade: 'websocket', ms: Date.now() - state.started })
    upgraded.add(socket)
    socket.once('close', () => upgraded.delete(socket))
    proxy.ws(req, socket, head, { target })
  }

  const upgraded = new Set<Duplex>()
  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: MAX_REQUEST_SECONDS * 1000, headersTimeout: 30_000 })
  server.on('request', (req: EdgeRequest, res: ServerResponse) => {
    onRequest(req, res).catch((err: Error) => {
      opts.log?.({ level: 'error', msg: 'edge failure', err: err.message })
      sendProblem(req, res, 502, ErrorCode.badGateway, 'Bad gateway')
    })
  })
  server.on('upgrade', (req: EdgeRequest, socket: Duplex, head: Buffer) => {
    onUpgrade(req, socket, head).catch(() => socket.destroy())
  })
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n')
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
      upstreamAgent.destroy()
      await authPool.close()
    }
  }
}

import http from 'node:http'
import WebSocket from 'ws'
import { AUTH_COOKIES, IDENTITY_HEADER_NAMES, PROBLEM_CONTENT_TYPE, canonicalHeaderName } from '@palisade/contracts'
import type { EchoSeen } from './echo-upstream.js'

/**
 * The edge conformance suite: ForwardAuth semantics (ARCHITECTURE.md) checked from the outside
 * against whichever edge is running (the local edge, or real Traefik with the local config). The
 * upstream for chat/files/agents/gateway/web is an echo fixture that reports what it received;
 * auth is the real auth service.
 */

export interface ConformanceTarget {
  edgeUrl: string
  /** an origin auth accepts for cookie-authenticated unsafe requests and WebSockets */
  allowedOrigin: string
  /** requests the echo upstream saw (cleared by the suite as it goes) */
  hits: EchoSeen[]
  /** a logged-in user */
  user: { userId: string; sessionId: string; cookie: string; accessToken: string }
}

export interface RawResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** A request with exactly these header names and this raw path (no client-side normalisation). */
export function rawRequest(base: string, method: string, path: string, headers: [string, string][] = [], body?: Buffer | string): Promise<RawResponse> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    // A raw header list is sent as is (so spellings survive), which also means no automatic Host.
    const flat: string[] = ['Host', u.host]
    for (const [k, v] of headers) flat.push(k, v)
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers: flat as unknown as http.OutgoingHttpHeaders, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

export function echoed(res: RawResponse): EchoSeen {
  return JSON.parse(res.body) as EchoSeen
}

/** Every value the upstream saw for any spelling of `canonical`. */
export function valuesOf(seen: EchoSeen, canonical: string): { name: string; value: string }[] {
  return seen.rawHeaders.filter(([k]) => canonicalHeaderName(k) === canonical).map(([name, value]) => ({ name, value }))
}

interface Tap {
  test(name: string, fn: (t: Tap) => Promise<void>): Promise<void>
  equal(a: unknown, b: unknown, msg?: string): void
  not(a: unknown, b: unknown, msg?: string): void
  same(a: unknown, b: unknown, msg?: string): void
  ok(a: unknown, msg?: string): void
  notOk(a: unknown, msg?: string): void
  match(a: unknown, b: unknown, msg?: string): void
}

const SPOOFED: [string, string][] = [
  ['X-Authenticated-User', '00000000-0000-4000-8000-000000000666'],
  ['X_Authenticated_User', '00000000-0000-4000-8000-000000000666'],
  ['X.Authenticated.User', '00000000-0000-4000-8000-000000000666'],
  ['x-authenticated_user', '00000000-0000-4000-8000-000000000666'],
  ['X-Authenticated-Session', '00000000-0000-4000-8000-000000000666'],
  ['X_Authenticated_Session', '00000000-0000-4000-8000-000000000666'],
  ['X-Authenticated-Assertion', 'eyJhbGciOiJub25lIn0.e30.'],
  ['X.Authenticated.Assertion', 'eyJhbGciOiJub25lIn0.e30.'],
  ['X-Forwarded-For', '6.6.6.6'],
  ['X_Forwarded_For', '6.6.6.6'],
  ['X-Forwarded-Host', 'evil.example'],
  ['X-Forwarded-Uri', '/auth/verify'],
  ['X-Forwarded-Method', 'GET'],
  ['X-Real-Ip', '6.6.6.6'],
  ['Forwarded', 'for=6.6.6.6']
]

export async function conformanceSuite(t: Tap, target: ConformanceTarget): Promise<void> {
  const { edgeUrl, user, hits } = target
  const json: [string, string] = ['Accept', 'application/json']
  const lastHit = () => hits[hits.length - 1]

  await t.test('spoofed identity and forwarding headers never reach a service (all spellings)', async (t) => {
    hits.length = 0
    const res = await rawRequest(edgeUrl, 'GET', '/api/chat/conversations', [json, ['Cookie', user.cookie], ...SPOOFED])
    t.equal(res.status, 200)
    const seen = echoed(res)
    const users = valuesOf(seen, 'x-authenticated-user')
    t.same(users, [{ name: 'x-authenticated-user', value: user.userId }], 'exactly one user header, the one auth set')
    t.same(valuesOf(seen, 'x-authenticated-session').map((v) => v.value), [user.sessionId])
    const assertion = valuesOf(seen, 'x-authenticated-assertion')
    t.equal(assertion.length, 1)
    t.not(assertion[0]?.value, 'eyJhbGciOiJub25lIn0.e30.', 'the assertion is auth\'s')
    t.notOk(seen.rawHeaders.some(([, v]) => v.includes('6.6.6.6') || v.includes('evil.example') || v === '/auth/verify'), 'no client forwarding value survives')
    t.same(valuesOf(seen, 'x-forwarded-for').map((v) => v.value), ['127.0.0.1'], 'X-Forwarded-For rebuilt from the socket')
    t.notOk(seen.rawHeaders.some(([k]) => k.toLowerCase() === 'forwarded'))

    hits.length = 0
    const pub = await rawRequest(edgeUrl, 'GET', '/assets/app.js', [json, ...SPOOFED])
    t.equal(pub.status, 200, 'public route')
    for (const h of IDENTITY_HEADER_NAMES) t.same(valuesOf(echoed(pub), h), [], `public route: no ${h} in any spelling`)

    hits.length = 0
    const ws = await openWs(edgeUrl, [['Cookie', user.cookie], ['Origin', target.allowedOrigin], ...SPOOFED])
    t.equal(ws.status, 101)
    const wsSeen = ws.first!
    t.same(valuesOf(wsSeen, 'x-authenticated-user').map((v) => v.value), [user.userId], 'WebSocket: only auth\'s identity')
    t.notOk(wsSeen.rawHeaders.some(([, v]) => v.includes('6.6.6.6')))
  })

  await t.test('unauthenticated API request → 401 problem, the service is never called', async (t) => {
    hits.length = 0
    for (const path of ['/api/chat/conversations', '/api/files/x', '/api/agents/runs', '/auth/me']) {
      const res = await rawRequest(edgeUrl, 'GET', path, [json])
      t.equal(res.status, 401, path)
      t.match(res.headers['content-type'], PROBLEM_CONTENT_TYPE)
      t.equal(JSON.parse(res.body).code, 'UNAUTHENTICATED')
    }
    const forged = await rawRequest(edgeUrl, 'GET', '/api/chat/conversations', [json, ['Cookie', `${AUTH_COOKIES.access}=not-a-token`]])
    t.equal(forged.status, 401, 'a garbage cookie')
    const bearer = await rawRequest(edgeUrl, 'GET', '/api/chat/conversations', [json, ['Authorization', `Bearer ${user.accessToken}`]])
    t.equal(bearer.status, 200, 'a bearer token works too')
    t.equal(hits.length, 1, 'only the authenticated request reached the service')
  })

  await t.test('HTML navigation without a session → 302 /login?next=…', async (t) => {
    const res = await rawRequest(edgeUrl, 'GET', '/?tab=1', [['Accept', 'text/html,application/xhtml+xml'], ['Sec-Fetch-Mode', 'navigate']])
    t.equal(res.status, 302)
    t.equal(res.headers.location, `/login?next=${encodeURIComponent('/?tab=1')}`)
    const api = await rawRequest(edgeUrl, 'GET', '/api/chat/conversations', [['Accept', 'text/html'], ['Sec-Fetch-Mode', 'cors']])
    t.equal(api.status, 401, 'fetch() from a page is not a navigation')
  })

  await t.test('WebSocket: 401 at the handshake without auth, upgraded with identity with it', async (t) => {
    const denied = await openWs(edgeUrl, [['Origin', target.allowedOrigin]])
    t.equal(denied.status, 401)
    t.match(denied.headers['content-type'], PROBLEM_CONTENT_TYPE)
    const foreign = await openWs(edgeUrl, [['Cookie', user.cookie], ['Origin', 'https://evil.example']])
    t.equal(foreign.status, 403, 'foreign Origin on a handshake (cross-site WebSocket hijacking)')
    const ok = await openWs(edgeUrl, [['Cookie', user.cookie], ['Origin', target.allowedOrigin]])
    t.equal(ok.status, 101)
    t.same(valuesOf(ok.first!, 'x-authenticated-user').map((v) => v.value), [user.userId])
    t.equal(ok.echo, 'ping', 'frames flow both ways')
  })

  await t.test('foreign Origin on a cookie-authenticated unsafe request → 403', async (t) => {
    hits.length = 0
    const res = await rawRequest(edgeUrl, 'POST', '/api/chat/conversations', [json, ['Content-Type', 'application/json'], ['Cookie', user.cookie], ['Origin', 'https://evil.example']], '{}')
    t.equal(res.status, 403)
    t.equal(JSON.parse(res.body).code, 'FORBIDDEN_ORIGIN')
    t.equal(hits.length, 0)
    const ok = await rawRequest(edgeUrl, 'POST', '/api/chat/conversations', [json, ['Content-Type', 'application/json'], ['Cookie', user.cookie], ['Origin', target.allowedOrigin]], '{"a":1}')
    t.equal(ok.status, 200)
    t.equal(echoed(ok).bodyBytes, 7, 'the body is relayed')
  })

  await t.test('internal paths are never routed: 404, even with a session', async (t) => {
    hits.length = 0
    for (const path of ['/auth/verify', '/auth/jwks', '/.well-known/jwks.json', '/healthz', '/readyz', '/internal/x', '/metrics', '/auth/verify/x', '/nope']) {
      const res = await rawRequest(edgeUrl, 'GET', path, [json, ['Cookie', user.cookie]])
      t.equal(res.status, 404, path)
    }
    const ws = await openWs(edgeUrl, [['Cookie', user.cookie], ['Origin', target.allowedOrigin]], '/auth/verify')
    t.equal(ws.status, 404, 'nor as a WebSocket')
    t.equal(hits.length, 0)
  })

  await t.test('path tricks are refused', async (t) => {
    hits.length = 0
    for (const path of ['/api/chat/%2e%2e/%2e%2e/healthz', '/api/chat/../../healthz', '/api//chat/x', '/api/chat/x%2fy', '/api\\chat\\x', '/api/chat/%5c..', '/api/chat/%00', '/auth/me/..;/verify']) {
      const res = await rawRequest(edgeUrl, 'GET', path, [json, ['Cookie', user.cookie]])
      t.ok(res.status === 400 || res.status === 404, `${path} → ${res.status}`)
    }
    t.equal(hits.length, 0, 'none reached a service')
  })

  await t.test('bodies over the route limit → 413', async (t) => {
    hits.length = 0
    const big = Buffer.alloc(17 * 1024, 'a')
    const login = await rawRequest(edgeUrl, 'POST', '/auth/login', [json, ['Content-Type', 'application/json']], big)
    t.equal(login.status, 413, 'public route, declared length')
    const chunked = await rawRequest(edgeUrl, 'POST', '/api/chat/conversations', [json, ['Content-Type', 'application/json'], ['Cookie', user.cookie], ['Origin', target.allowedOrigin], ['Transfer-Encoding', 'chunked']], Buffer.alloc(65 * 1024, 'b'))
    t.equal(chunked.status, 413, 'authenticated route, streamed body')
    const fine = await rawRequest(edgeUrl, 'POST', '/api/chat/conversations', [json, ['Content-Type', 'application/json'], ['Cookie', user.cookie], ['Origin', target.allowedOrigin], ['Transfer-Encoding', 'chunked']], Buffer.alloc(60 * 1024, 'c'))
    t.equal(fine.status, 200)
    t.equal(echoed(fine).bodyBytes, 60 * 1024, 'a streamed body under the limit arrives whole')
  })

  await t.test('responses carry security headers and a request id', async (t) => {
    hits.length = 0
    const res = await rawRequest(edgeUrl, 'GET', '/api/chat/conversations', [json, ['Cookie', user.cookie]])
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.ok(res.headers['strict-transport-security'])
    t.notOk(res.headers['x-powered-by'], 'upstream X-Powered-By removed')
    t.match(valuesOf(lastHit()!, 'x-request-id')[0]?.value, /^[A-Za-z0-9._:-]{8,}$/, 'the service got a request id')
    const denied = await rawRequest(edgeUrl, 'GET', '/api/chat/conversations', [json])
    t.equal(denied.headers['x-content-type-options'], 'nosniff', 'also on auth denials')
  })
}

export interface WsResult {
  status: number
  headers: http.IncomingHttpHeaders
  first?: EchoSeen
  echo?: string
}

/** Opens a WebSocket on /ws (or `path`); resolves with the handshake status and, if open, the echo. */
export function openWs(base: string, headers: [string, string][], path = '/ws'): Promise<WsResult> {
  const url = base.replace(/^http/, 'ws') + path
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: Object.fromEntries(headers), handshakeTimeout: 5000 })
    ws.on('unexpected-response', (_req, res) => {
      res.resume()
      resolve({ status: res.statusCode ?? 0, headers: res.headers })
      ws.terminate()
    })
    ws.on('error', () => resolve({ status: 0, headers: {} }))
    let first: EchoSeen | undefined
    ws.on('message', (m) => {
      if (!first) {
        first = JSON.parse(m.toString()) as EchoSeen
        ws.send('ping')
      } else {
        resolve({ status: 101, headers: {}, first, echo: m.toString() })
        ws.close()
      }
    })
  })
}

import t from 'tap'
import http from 'node:http'
import { startTestStack } from '@palisade/testkit'
import { MAX_REQUEST_SECONDS, SERVICE_NAMES, type ServiceName } from '@palisade/contracts'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '@palisade/platform/testing'
import { createEdge } from '../src/edge/edge.js'
import { findTraefik, startLocalTraefik } from '../src/edge/traefik-runner.js'
import { startEchoUpstream } from './helpers/echo-upstream.js'
import { auditedLoginAddress, conformanceSuite, rawRequest } from './helpers/conformance.js'
import { LOCAL_EDGE_TRUSTED_PROXIES } from '../src/stack/services.js'

const ORIGIN = 'http://localhost:8080'

t.test('local edge (undici; http-proxy-3 for WebSockets) conforms to the ForwardAuth semantics', async (t) => {
  // auth trusts the edge as the launcher configures it
  const stack = await startTestStack(t, { auth: { ALLOWED_ORIGINS: ORIGIN, TRUSTED_PROXIES: LOCAL_EDGE_TRUSTED_PROXIES } })
  const echo = await startEchoUpstream()
  t.teardown(() => echo.close())
  const upstreams = Object.fromEntries(SERVICE_NAMES.map((s) => [s, s === 'auth' ? stack.authUrl : echo.url])) as Record<ServiceName, string>
  const edge = createEdge({ upstreams, authVerifyUrl: `${stack.authUrl}/auth/verify`, proxyTimeoutMs: 3000 })
  const port = await edge.listen(0)
  t.teardown(() => edge.close())
  const edgeUrl = `http://127.0.0.1:${port}`
  const user = await stack.createUser()

  await conformanceSuite(t, {
    edgeUrl,
    allowedOrigin: ORIGIN,
    hits: echo.hits,
    user,
    upstreamActive: echo.active,
    slowBodyCutoffMs: 15_000,
    lastFailedLoginAddress: auditedLoginAddress(stack)
  })

  // What only the local edge's own configuration decides (Traefik's equivalents are its config).
  t.equal(edge.server.requestTimeout, MAX_REQUEST_SECONDS * 1000, 'a slow upload has as long as Traefik and files give it')
  t.equal(edge.server.headersTimeout, 30_000, 'slow headers stay bounded')
  t.test('local edge: upstream timeout → 504, upstream down → 502, both problems', async (t) => {
    const slow = await rawRequest(edgeUrl, 'GET', '/api/chat/slow', [['Cookie', user.cookie]])
    t.equal(slow.status, 504)
    t.equal(JSON.parse(slow.body).code, 'TIMEOUT')

    const dead = http.createServer()
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()))
    const deadPort = (dead.address() as { port: number }).port
    await new Promise((r) => dead.close(r))
    const edge2 = createEdge({ upstreams: { ...upstreams, chat: `http://127.0.0.1:${deadPort}` }, authVerifyUrl: `${stack.authUrl}/auth/verify` })
    const p2 = await edge2.listen(0)
    t.teardown(() => edge2.close())
    const down = await rawRequest(`http://127.0.0.1:${p2}`, 'GET', '/api/chat/x', [['Cookie', user.cookie]])
    t.equal(down.status, 502)
    t.equal(JSON.parse(down.body).code, 'BAD_GATEWAY')

    const edge3 = createEdge({ upstreams, authVerifyUrl: `http://127.0.0.1:${deadPort}/auth/verify` })
    const p3 = await edge3.listen(0)
    t.teardown(() => edge3.close())
    const noAuth = await rawRequest(`http://127.0.0.1:${p3}`, 'GET', '/api/chat/x', [['Cookie', user.cookie]])
    t.equal(noAuth.status, 502, 'auth down: fail closed')
    t.equal(echo.hits.filter((h) => h.url === '/api/chat/x').length, 0, 'nothing reached the service')
  })

  t.test('local edge: its access log never carries a query string (search terms) or a cookie', async (t) => {
    const entries: Record<string, unknown>[] = []
    const logged = createEdge({ upstreams, authVerifyUrl: `${stack.authUrl}/auth/verify`, log: (e) => void entries.push(e) })
    const p = await logged.listen(0)
    t.teardown(() => logged.close())
    const r = await rawRequest(`http://127.0.0.1:${p}`, 'GET', '/api/chat/search?q=my+secret+plans', [['Cookie', user.cookie]])
    t.equal(r.status, 200)
    await new Promise((res) => setTimeout(res, 50))
    const text = JSON.stringify(entries)
    t.match(text, '/api/chat/search', 'the request is logged')
    t.notMatch(text, /secret|plans/, 'without its query')
    t.notMatch(text, user.cookie.split('=')[1]!.slice(0, 20), 'and without the cookie')
  })

  t.test('local edge: a large upload streams through', async (t) => {
    const size = 20 * 1024 * 1024
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/files/upload',
          headers: { cookie: user.cookie, origin: ORIGIN, 'content-type': 'application/octet-stream', 'content-length': size }
        },
        (r) => {
          let body = ''
          r.on('data', (c) => (body += c))
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }))
        }
      )
      req.on('error', reject)
      const chunk = Buffer.alloc(1024 * 1024, 1)
      let sent = 0
      const pump = () => {
        while (sent < size) {
          sent += chunk.length
          if (!req.write(chunk)) return void req.once('drain', pump)
        }
        req.end()
      }
      pump()
    })
    t.equal(res.status, 200)
    t.equal(JSON.parse(res.body).bodyBytes, size)
  })
})

// The same suite against real Traefik with the generated configuration, wherever a binary exists.
const traefik = findTraefik()
t.test('real Traefik (generated config) conforms to the ForwardAuth semantics', { skip: traefik ? false : 'no traefik binary on PATH' }, async (t) => {
  // auth trusts the edge as the launcher configures it
  const stack = await startTestStack(t, { auth: { ALLOWED_ORIGINS: ORIGIN, TRUSTED_PROXIES: LOCAL_EDGE_TRUSTED_PROXIES } })
  const echo = await startEchoUpstream()
  t.teardown(() => echo.close())
  const upstreams = Object.fromEntries(SERVICE_NAMES.map((s) => [s, s === 'auth' ? stack.authUrl : echo.url])) as Record<ServiceName, string>
  const proxy = await startLocalTraefik({
    binary: traefik!,
    dir: mkdtempSync(join(tmpdir(), 'palisade-traefik-')),
    port: await freePort(),
    pingPort: await freePort(),
    upstreams,
    authVerifyUrl: `${stack.authUrl}/auth/verify`
  })
  t.teardown(() => proxy.stop())
  const user = await stack.createUser()
  await conformanceSuite(t, {
    edgeUrl: proxy.url,
    allowedOrigin: ORIGIN,
    hits: echo.hits,
    user,
    upstreamActive: echo.active,
    lastFailedLoginAddress: auditedLoginAddress(stack)
  })
})

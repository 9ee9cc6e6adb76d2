import t from 'tap'
import http from 'node:http'
import { readFileSync } from 'node:fs'
import WebSocket from 'ws'
import { AUTH_COOKIES } from '@palisade/contracts'
import { startThrowawayStack } from '../src/stack/throwaway.js'
import { STACK_SERVICES } from '../src/stack/services.js'

t.test('pnpm start: the whole stack through the edge (register → login → API → WebSocket)', async (t) => {
  const stack = await startThrowawayStack({ name: 'smoke' })
  t.teardown(() => stack.stop())
  const { port, child, exited } = stack
  // what the launcher printed until it was ready (the end of the test reads the rest)
  const out = stack.stdout()
  const err = stack.stderr()
  if (!t.ok(out.includes(`ready: http://localhost:${port}`), 'the launcher prints the URL')) {
    t.comment(out.slice(-3000))
    t.comment(err.slice(-3000))
    return
  }
  t.match(out, /NATS: nats-server .*one user per service/, 'nats-server from PATH with the generated config')
  const base = `http://127.0.0.1:${port}`
  const origin = `http://localhost:${port}`

  const email = `smoke-${Date.now()}@test.palisade.example`
  const password = 'a long smoke test password'
  const reg = await fetch(`${base}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify({ email, password, displayName: 'Smoke' })
  })
  t.equal(reg.status, 201, 'register')
  const login = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify({ email, password })
  })
  t.equal(login.status, 200, 'login')
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${AUTH_COOKIES.access}=`))
  t.ok(cookie, 'access cookie set')
  const userId = ((await login.json()) as { user: { id: string } }).user.id

  const me = await fetch(`${base}/auth/me`, { headers: { cookie: cookie!, accept: 'application/json' } })
  t.equal(me.status, 200)
  t.equal(((await me.json()) as { id: string }).id, userId, '/auth/me through edge + ForwardAuth')
  const anon = await fetch(`${base}/auth/me`, { headers: { accept: 'application/json' } })
  t.equal(anon.status, 401, 'and not without the cookie')

  // Auth sees each client the edge saw (the launcher sets TRUSTED_PROXIES to the edge): one
  // machine's bad guesses and a crowd signing in at once lock out nobody.
  const postFrom = (from: string, path: string, json: unknown) =>
    new Promise<number>((resolve, reject) => {
      const body = JSON.stringify(json)
      const req = http.request(
        `${base}${path}`,
        {
          method: 'POST',
          localAddress: from,
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), origin }
        },
        (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        }
      )
      req.on('error', reject)
      req.end(body)
    })
  const guesses = []
  for (let i = 0; i < 6; i++)
    guesses.push(await postFrom('127.0.0.2', '/auth/login', { email: `made-up-${i}@test.palisade.example`, password: 'Summer2024!x' }))
  t.same(guesses, Array(6).fill(401), 'six bad guesses from 127.0.0.2 on made-up accounts')
  t.equal(await postFrom('127.0.0.3', '/auth/login', { email, password }), 200, 'another machine signs in')
  const crowd = Array.from({ length: 20 }, (_, i) => ({ email: `crowd-${i}-${Date.now()}@test.palisade.example`, password: `crowd password ${i} long enough` }))
  for (const u of crowd) await postFrom('127.0.0.4', '/auth/register', { ...u, displayName: 'Crowd' })
  const statuses: number[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < crowd.length) statuses.push(await postFrom('127.0.0.5', '/auth/login', crowd[next++]!))
    })
  )
  t.same(statuses, Array(20).fill(200), '20 people behind one address signing in, 16 at a time: none refused')

  const chatRunning = out.includes('chat@')
  if (chatRunning) {
    const list = await fetch(`${base}/api/chat/conversations`, { headers: { cookie: cookie!, accept: 'application/json' } })
    t.equal(list.status, 200, 'chat API: the service accepted the edge-stamped identity assertion')
  }

  if (out.includes('gateway@')) {
    const hello = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { cookie: cookie!, origin } })
      ws.once('message', (m) => {
        resolve(m.toString())
        ws.close()
      })
      ws.once('unexpected-response', (_q, r) => reject(new Error(`handshake answered ${r.statusCode}`)))
      ws.once('error', reject)
    })
    t.match(JSON.parse(hello), { userId }, 'WebSocket through the edge carries the user identity')
  } else t.comment('gateway not running: WebSocket step skipped')

  // Metrics: on each process's own listener (edge: the base port, services: base + their offset),
  // never through the edge.
  t.equal((await fetch(`${base}/metrics`)).status, 404, '/metrics through the edge is 404')
  t.equal((await fetch(`${base}/api/chat/metrics`, { headers: { cookie: cookie! } })).status, 404, 'and through a service route too')
  const scrape = async (offset: number) => (await fetch(`http://127.0.0.1:${stack.metricsPortBase + offset}/metrics`)).text()
  const offsetOf = (name: string) => STACK_SERVICES.find((s) => s.name === name)!.portOffset
  const edgeMetrics = await scrape(0)
  t.match(edgeMetrics, /palisade_http_requests_total\{service="edge",method="GET",route="\/auth\/me",status_code="200"\} \d/, 'edge: per route')
  const authMetrics = await scrape(offsetOf('auth'))
  t.match(authMetrics, /palisade_auth_logins_total\{outcome="success"\} \d/, 'auth: logins')
  t.match(authMetrics, /palisade_auth_logins_total\{outcome="failure"\} 6/, 'auth: the six bad guesses')
  t.match(authMetrics, /palisade_auth_verify_total\{outcome="allow",reason="session"\} \d/, 'auth: verify outcomes')
  t.match(authMetrics, /palisade_auth_verify_total\{outcome="deny",reason="UNAUTHENTICATED"\} \d/)
  t.notMatch(authMetrics, new RegExp(`${userId}|${email.replace(/[.@]/g, '.')}`), 'no user id or email in any label')
  if (chatRunning) {
    const chatMetrics = await scrape(offsetOf('chat'))
    t.match(chatMetrics, /palisade_http_requests_total\{service="chat",method="GET",route="\/api\/chat\/conversations",status_code="200"\} 1/)
    t.match(chatMetrics, /palisade_outbox_pending\{service="chat"\} 0/, 'chat: outbox gauges')
    t.match(chatMetrics, /palisade_outbox_lag_seconds\{service="chat"\} 0/)
  }
  if (out.includes('gateway@')) t.match(await scrape(offsetOf('gateway')), /palisade_gateway_frames_total\{direction="out"\} \d/, 'gateway: frames')

  // A service that dies takes the stack down with a clear message.
  const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).map(Number)
  const victim = children.find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('NATS_USER=chat')
    } catch {
      return false
    }
  })
  if (t.ok(victim, 'found the chat process')) {
    process.kill(victim!, 'SIGKILL')
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))])
    t.equal(code, 1, 'the launcher exits 1')
    t.match(stack.stderr(), /chat exited \(SIGKILL\); stopping the stack/, 'and says why')
    t.match(stack.stdout(), /stopped/, 'after stopping everything else')
    await new Promise((r) => setTimeout(r, 200))
    await t.rejects(fetch(`${base}/auth/me`), 'the edge is gone')
  }
})

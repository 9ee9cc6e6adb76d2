import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import WebSocket, { WebSocketServer } from 'ws'
import { freePort } from '@palisade/platform/testing'
import { UpstreamPool } from '../src/edge/balancer.js'
import { createEdge } from '../src/edge/edge.js'

t.test('UpstreamPool: round-robin, a refusing instance left out, never an empty answer', async (t) => {
  const pool = new UpstreamPool(['a', 'b', 'c'], 1000)
  t.same([pool.pick(), pool.pick(), pool.pick(), pool.pick()], ['a', 'b', 'c', 'a'])
  pool.markDown('b', 0)
  t.same([pool.pick(new Set(), 10), pool.pick(new Set(), 10), pool.pick(new Set(), 10)], ['c', 'a', 'c'], 'b is skipped while down')
  t.equal(pool.pick(new Set(['a', 'c']), 10), 'b', 'when nothing else is left, the one marked down is tried anyway')
  t.equal(pool.pick(new Set(['a', 'b', 'c'])), undefined, 'every one tried')
  const later = new Set([pool.pick(new Set(), 2000), pool.pick(new Set(), 2000), pool.pick(new Set(), 2000)])
  t.ok(later.has('b'), 'back after its time')
})

interface Upstream {
  url: string
  hits: Array<{ method: string; body: string }>
  close(): Promise<void>
}

/** An instance that answers with its name; `cut` destroys the connection on requests it matches. */
async function upstream(name: string, cut?: (req: http.IncomingMessage) => boolean): Promise<Upstream> {
  const hits: Upstream['hits'] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      hits.push({ method: req.method ?? '', body })
      if (cut?.(req)) return void req.socket.destroy()
      res.writeHead(200, { 'content-type': 'text/plain' }).end(name)
    })
  })
  const wss = new WebSocketServer({ server })
  wss.on('connection', (ws) => ws.send(name))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        wss.close()
        server.closeAllConnections()
        server.close(() => r())
      })
  }
}

t.test('the edge balances instances and sends a failed request elsewhere only when that is safe', async (t) => {
  const dead = `http://127.0.0.1:${await freePort()}`
  const web1 = await upstream('web1')
  const web2 = await upstream('web2')
  const auth = await upstream('auth')
  const flaky = await upstream('flaky', (req) => req.method === 'POST')
  const cutsGets = await upstream('cuts-gets', (req) => req.method === 'GET')
  const verify = http.createServer((_req, res) => res.writeHead(200, { 'x-authenticated-user': '00000000-0000-4000-8000-000000000001' }).end())
  await new Promise<void>((r) => verify.listen(0, '127.0.0.1', r))
  const verifyUrl = `http://127.0.0.1:${(verify.address() as AddressInfo).port}/auth/verify`
  const gateway = await upstream('gateway')
  const edge = createEdge({
    upstreams: { web: [dead, web1.url, web2.url], auth: [dead, auth.url], gateway: [dead, gateway.url] },
    authVerifyUrl: [`${dead}/auth/verify`, verifyUrl]
  })
  const port = await edge.listen(0)
  const base = `http://127.0.0.1:${port}`
  t.teardown(async () => {
    await edge.close()
    await Promise.all([web1, web2, auth, flaky, cutsGets, gateway].map((u) => u.close()))
    verify.close()
  })

  const answers = []
  for (let i = 0; i < 6; i++) {
    const r = await fetch(`${base}/login`)
    answers.push(`${r.status} ${await r.text()}`)
  }
  t.same(answers.filter((a) => a === '200 web1').length + answers.filter((a) => a === '200 web2').length, 6, 'every GET served though one instance refuses')
  t.ok(web1.hits.length >= 2 && web2.hits.length >= 2, `spread over the live instances (${web1.hits.length}/${web2.hits.length})`)

  const body = JSON.stringify({ email: 'a@b.example', password: 'x'.repeat(20) })
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    t.equal(r.status, 200, 'a POST whose connection was refused goes to the other instance')
  }
  t.ok(
    auth.hits.every((h) => h.body === body),
    'with its body intact'
  )

  // A WebSocket: auth's first /verify URL and the first gateway instance refuse.
  const hello = await new Promise<string>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { origin: base } })
    ws.once('message', (m) => {
      resolve(String(m))
      ws.close()
    })
    ws.once('unexpected-response', (_q, r) => reject(new Error(`handshake answered ${r.statusCode}`)))
    ws.once('error', reject)
  })
  t.equal(hello, 'gateway', 'the upgrade reached the live gateway instance, after /verify on the live auth URL')

  // A POST cut off mid-way may have been acted on: 502, not repeated; a GET is repeated.
  const edge2 = createEdge({ upstreams: { auth: [flaky.url, auth.url], web: [cutsGets.url, web1.url] }, authVerifyUrl: verifyUrl })
  const port2 = await edge2.listen(0)
  t.teardown(() => edge2.close())
  const before = auth.hits.length
  const posted = await fetch(`http://127.0.0.1:${port2}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  t.equal(posted.status, 502, 'a POST cut off by the instance is answered 502')
  t.equal(auth.hits.length, before, 'and not sent to another instance')
  const gets = []
  for (let i = 0; i < 2; i++) {
    const r = await fetch(`http://127.0.0.1:${port2}/login`)
    gets.push(`${r.status} ${await r.text()}`)
  }
  t.same(gets, ['200 web1', '200 web1'], 'a GET cut off by the instance is repeated on the other one')
  t.ok(cutsGets.hits.length >= 1, 'after reaching the instance that cut it')
})

import t from 'tap'
import WebSocket from 'ws'
import { baseUrl, buildService, type TestUser } from '@palisade/testkit'
import { startTestStack } from '../helpers/stack.js'
import chatApp from '@palisade/chat'
import { createEdge } from '@palisade/scripts/edge'
import gatewayApp, { type GatewayAppConfig } from '@palisade/gateway'
import { Client } from './helpers.js'

const ORIGIN = 'http://localhost:8080'

/**
 * End to end through the local edge (ForwardAuth with the real auth): browsers' cookies and Origin,
 * HTTP to chat and WebSockets to the gateway, exactly the path a client takes.
 */
t.test('two users through the edge', async (t) => {
  const stack = await startTestStack(t, { auth: { ALLOWED_ORIGINS: ORIGIN } })
  const config = stack.config({ ALLOWED_ORIGINS: ORIGIN })
  const chat = await buildService(t, chatApp, config, { service: 'chat', listen: true })
  const gateway = await buildService(t, gatewayApp, config as GatewayAppConfig, { service: 'gateway', listen: true })
  const edge = createEdge({ upstreams: { auth: stack.authUrl, chat: baseUrl(chat), gateway: baseUrl(gateway) }, authVerifyUrl: `${stack.authUrl}/auth/verify` })
  const port = await edge.listen(0)
  t.teardown(() => edge.close())
  const edgeUrl = `http://127.0.0.1:${port}`
  const [alice, bob, mallory] = await Promise.all([stack.createUser(), stack.createUser(), stack.createUser()])

  const http = async (user: TestUser | null, method: string, path: string, body?: unknown) => {
    const res = await fetch(edgeUrl + path, {
      method,
      headers: {
        accept: 'application/json',
        origin: ORIGIN,
        ...(user ? { cookie: user.cookie } : {}),
        ...(body ? { 'content-type': 'application/json' } : {})
      },
      ...(body ? { body: JSON.stringify(body) } : {})
    })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : null }
  }
  const open = async (user: TestUser | null, extra: Record<string, string> = {}): Promise<Client> => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { origin: ORIGIN, ...(user ? { cookie: user.cookie } : {}), ...extra } })
    t.teardown(() => ws.terminate())
    const client = new Client(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('unexpected-response', (_q, res) => reject(Object.assign(new Error(`handshake ${res.statusCode}`), { status: res.statusCode })))
      ws.once('error', reject)
    })
    await client.type('hello')
    return client
  }

  const created = await http(alice, 'POST', '/api/chat/conversations', { title: 'Through the edge', memberIds: [bob.userId] })
  t.equal(created.status, 201)
  const conv = created.body.id as string

  const a = await open(alice)
  const b = await open(bob)
  t.equal(a.frames[0]!.userId, alice.userId)

  t.test('A sends over WebSocket; B receives on its socket and over HTTP', async (t) => {
    a.send({ type: 'message.send', id: 'e1', conversationId: conv, text: 'hello through the edge', clientMessageId: 'edge-1' })
    const ack = await a.waitFor((f) => f.type === 'ack' && f.ref === 'e1')
    const got = await b.waitFor((f) => f.type === 'message.created')
    t.equal((got.message as { id: string }).id, (ack.message as { id: string }).id)
    const list = await http(bob, 'GET', `/api/chat/conversations/${conv}/messages`)
    t.equal(list.status, 200)
    t.equal(list.body.items[0].text, 'hello through the edge')
  })

  t.test('idempotent retry and paging over HTTP', async (t) => {
    const first = await http(bob, 'POST', `/api/chat/conversations/${conv}/messages`, { text: 'once', clientMessageId: 'edge-retry' })
    const again = await http(bob, 'POST', `/api/chat/conversations/${conv}/messages`, { text: 'once', clientMessageId: 'edge-retry' })
    t.equal(first.status, 201)
    t.equal(again.status, 200)
    t.equal(again.body.id, first.body.id)
    for (let i = 0; i < 3; i++) await http(alice, 'POST', `/api/chat/conversations/${conv}/messages`, { text: `page ${i}`, clientMessageId: `edge-p${i}` })
    const p1 = await http(bob, 'GET', `/api/chat/conversations/${conv}/messages?limit=2`)
    const p2 = await http(bob, 'GET', `/api/chat/conversations/${conv}/messages?limit=2&before=${p1.body.nextCursor}`)
    t.same(
      [...p1.body.items, ...p2.body.items].map((m: { text: string }) => m.text),
      ['page 2', 'page 1', 'page 0', 'once']
    )
  })

  t.test('search returns only my conversations', async (t) => {
    const own = await http(mallory, 'POST', '/api/chat/conversations', { title: 'Mallory' })
    await http(mallory, 'POST', `/api/chat/conversations/${own.body.id}/messages`, { text: 'hello from mallory', clientMessageId: 'm' })
    const mine = await http(mallory, 'GET', '/api/chat/search?q=hello')
    t.same(
      mine.body.items.map((m: { text: string }) => m.text),
      ['hello from mallory']
    )
    const bobs = await http(bob, 'GET', '/api/chat/search?q=hello')
    t.same(
      bobs.body.items.map((m: { text: string }) => m.text),
      ['hello through the edge']
    )
  })

  t.test('a non-member gets 404 over HTTP and an error frame over WebSocket', async (t) => {
    t.equal((await http(mallory, 'GET', `/api/chat/conversations/${conv}`)).status, 404)
    t.equal((await http(mallory, 'GET', `/api/chat/conversations/${conv}/messages`)).status, 404)
    const m = await open(mallory)
    m.send({ type: 'message.send', id: 'x', conversationId: conv, text: 'let me in', clientMessageId: 'x' })
    t.match(await m.waitFor((f) => f.ref === 'x'), { type: 'error', code: 'NOT_FOUND' })
    m.close()
  })

  t.test('handshakes: identity comes from the edge only', async (t) => {
    await t.rejects(open(null), { status: 401 }, 'no cookie')
    await t.rejects(open(alice, { origin: 'https://evil.example' }), 'a cross-site handshake')
    const spoof = await open(mallory, { 'x-authenticated-user': alice.userId, X_Authenticated_User: alice.userId })
    t.equal(spoof.frames[0]!.userId, mallory.userId, 'client-sent identity headers are scrubbed')
    spoof.close()
    const renew = await http(alice, 'GET', '/ws')
    t.equal(renew.status, 200, 'a plain GET /ws renews the lease through the edge')
    t.type(renew.body.expiresAt, 'string')
  })

  t.test('logout through the edge closes the socket', async (t) => {
    const res = await fetch(`${edgeUrl}/auth/logout`, { method: 'POST', headers: { cookie: bob.cookie, origin: ORIGIN } })
    t.equal(res.status, 204)
    t.match(await b.closedWithin(1000), { code: 4001 })
    a.close()
  })
})

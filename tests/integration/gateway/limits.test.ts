import t from 'tap'
import WebSocket from 'ws'
import { baseUrl } from '@palisade/testkit'
import { userEventsSubject, type UserEvent } from '@palisade/contracts'
import { gatewayHarness, sleep } from './helpers.js'

t.test('limits', async (t) => {
  const h = await gatewayHarness(t, {
    gateway: {
      GATEWAY_HEARTBEAT_MS: 200,
      GATEWAY_MAX_SOCKETS_PER_USER: 2,
      GATEWAY_MAX_SOCKETS_PER_IP: 3,
      GATEWAY_RATE_PER_SECOND: 2,
      GATEWAY_RATE_BURST: 5,
      GATEWAY_RATE_ABUSE_LIMIT: 8,
      // the test plays the edge from 127.0.0.1 and says which client it saw in X-Forwarded-For
      TRUSTED_PROXIES: '127.0.0.1'
    },
    // the slow-consumer test's reader stops answering pings too: give it a gateway with a slow heartbeat
    more: [{ GATEWAY_HEARTBEAT_MS: 60_000 }]
  })
  const hub = h.gw.gatewayHub

  t.test('heartbeat: a socket that stops answering pings is closed; a live one stays', async (t) => {
    const [u1, u2] = await Promise.all([h.stack.createUser(), h.stack.createUser()])
    const live = await h.connect(u1)
    let pings = 0
    live.ws.on('ping', () => pings++)
    const dead = await h.connect(u2, { autoPong: false })
    const closed = await dead.closedWithin(2000)
    t.equal(closed.code, 1006, 'cut without a close handshake (the peer is unresponsive)')
    await sleep(300)
    t.equal(live.ws.readyState, WebSocket.OPEN, 'the answering socket is still open')
    t.ok(pings >= 2, `it was pinged (${pings})`)
    live.close()
  })

  t.test('at most N sockets per user', async (t) => {
    const u = await h.stack.createUser()
    const a = await h.connect(u)
    const b = await h.connect(u)
    t.equal(await h.refused(await h.wsHeaders(u)), 429, 'the third handshake is refused')
    b.close()
    await b.closed
    await sleep(50)
    const c = await h.connect(u)
    t.pass('a slot freed by a close can be used again')
    a.close()
    c.close()

    // Concurrent handshakes cannot overshoot: the cap is re-checked exactly when the socket is added.
    const v = await h.stack.createUser()
    const headers = await h.wsHeaders(v)
    const url = `${baseUrl(h.gw).replace('http', 'ws')}/ws`
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, () => {
        const ws = new WebSocket(url, { headers })
        t.teardown(() => ws.terminate())
        return new Promise<string>((resolve) => {
          ws.on('message', (d) => JSON.parse(d.toString()).type === 'hello' && resolve('hello'))
          ws.on('unexpected-response', (_q, res) => resolve(String(res.statusCode)))
          ws.on('close', (code) => resolve(String(code)))
          ws.on('error', () => {})
        })
      })
    )
    t.equal(outcomes.filter((o) => o === 'hello').length, 2, `two accepted (${outcomes.join(',')})`)
    t.ok(
      outcomes.every((o) => ['hello', '429', '4003'].includes(o)),
      'the rest refused with 429 or closed with 4003'
    )
    t.equal(hub.socketsOf(v.userId), 2)
  })

  t.test('per-address cap (the address the edge saw, from X-Forwarded-For)', async (t) => {
    const users = await Promise.all([1, 2, 3, 4].map(() => h.stack.createUser()))
    const from = (ip: string) => ({ 'x-forwarded-for': ip })
    const open = []
    for (const u of users.slice(0, 3)) open.push(await h.connect(u, { headers: await h.wsHeaders(u, from('203.0.113.7')) }))
    t.equal(await h.refused(await h.wsHeaders(users[3]!, from('203.0.113.7'))), 429, 'a fourth socket from the same address')
    open.push(await h.connect(users[3]!, { headers: await h.wsHeaders(users[3]!, from('198.51.100.1')) }))
    t.pass('another address is fine')
    for (const c of open) c.close()
  })

  t.test('per-address cap: X-Forwarded-For counts only from the trusted proxy', async (t) => {
    const users = await Promise.all([1, 2, 3, 4].map(() => h.stack.createUser()))
    const open = []
    // 127.0.0.2 is not the edge: whatever address it claims, its sockets count against 127.0.0.2.
    for (const [i, u] of users.slice(0, 3).entries())
      open.push(await h.connect(u, { from: '127.0.0.2', headers: await h.wsHeaders(u, { 'x-forwarded-for': `198.51.100.${10 + i}` }) }))
    t.equal(
      await h.refused(await h.wsHeaders(users[3]!, { 'x-forwarded-for': '198.51.100.99' }), 0, '127.0.0.2'),
      429,
      'a fourth socket is refused despite a fresh claimed address'
    )
    open.push(await h.connect(users[3]!, { from: '127.0.0.3' }))
    t.pass('a socket from another machine is fine')
    for (const c of open) c.close()
  })

  t.test('per-socket rate limit: a burst gets an error frame, sustained abuse closes with 1008', async (t) => {
    const u = await h.stack.createUser()
    const calm = await h.connect(u)
    for (let i = 0; i < 4; i++) calm.send({ type: 'ping', id: `c${i}` })
    await calm.waitFor((f) => f.ref === 'c3')
    t.notOk(
      calm.frames.some((f) => f.type === 'error'),
      'a normal pace is untouched'
    )
    calm.close()

    const u2 = await h.stack.createUser()
    const flood = await h.connect(u2)
    for (let i = 0; i < 40; i++) flood.send({ type: 'ping', id: `f${i}` })
    const closed = await flood.closedWithin(3000)
    t.equal(closed.code, 1008)
    const pongs = flood.frames.filter((f) => f.type === 'pong').length
    t.ok(pongs >= 5 && pongs <= 7, `the burst was served (${pongs} pongs)`)
    t.equal(flood.frames.filter((f) => f.type === 'error' && f.code === 'TOO_MANY_REQUESTS').length, 1, 'one error frame, not one per refused frame')
  })

  t.test('frame size cap: 64 KiB (1009 above it)', async (t) => {
    const u = await h.stack.createUser()
    const c = await h.connect(u)
    c.send(JSON.stringify({ type: 'ping', id: 'big', pad: 'x'.repeat(64 * 1024 - 40) }))
    t.match(await c.waitFor((f) => f.ref === 'big'), { type: 'error', code: 'VALIDATION_FAILED' }, 'just below the cap: an ordinary invalid frame')
    c.send('x'.repeat(64 * 1024 + 1))
    const closed = await c.closedWithin(3000)
    t.equal(closed.code, 1009)
  })

  t.test('slow consumer: more than 1 MiB buffered closes with 1013 instead of growing memory', async (t) => {
    const u = await h.stack.createUser()
    const slowHub = h.gateways[1]!.gatewayHub
    const c = await h.connect(u, { index: 1 })
    c.ws.pause() // stop reading: the kernel buffers fill, then the gateway's queue grows
    const at = new Date().toISOString()
    const event = (i: number): UserEvent => ({
      type: 'message.created',
      at,
      conversationId: '00000000-0000-4000-8000-000000000000',
      message: {
        id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        conversationId: '00000000-0000-4000-8000-000000000000',
        senderId: u.userId,
        author: { kind: 'user' },
        text: 'x'.repeat(8000),
        clientMessageId: `slow-${i}`,
        attachments: [],
        createdAt: at,
        editedAt: null,
        parentId: null,
        mentions: [],
        massMention: null,
        thread: null,
        reactions: []
      }
    })
    let sent = 0
    while (slowHub.socketsOf(u.userId) > 0 && sent < 20_000) {
      for (let i = 0; i < 200; i++) h.nc.publish(userEventsSubject(u.userId), JSON.stringify(event(sent++)))
      await h.nc.flush()
      await sleep(5)
    }
    t.equal(slowHub.socketsOf(u.userId), 0, `the gateway let go of the socket after ${sent} events (~${Math.round((sent * 8) / 1024)} MiB)`)
    c.ws.resume()
    const closed = await c.closedWithin(5000)
    t.equal(closed.code, 1013)
  })
})

import t from 'tap'
import { buildService, type TestUser } from '@palisade/testkit'
import chatApp from '@palisade/chat'
import { gatewayHarness, sleep, type Frame } from './helpers.js'

/**
 * Presence across two gateway instances and chat, over real sockets and NATS: a user with tabs on
 * both instances stays online until the last one closes, members see it in realtime, strangers
 * see nothing.
 */
t.test('presence over two gateway instances', async (t) => {
  const h = await gatewayHarness(t, { more: [{}] })
  const [alice, bob, mallory] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
  const conv = await h.createConversation(alice, 'Presence', [bob])

  const presence = async (viewer: TestUser, conversationId = conv.id) => {
    const url = `/api/chat/conversations/${conversationId}/presence`
    const res = await h.chat.inject({ method: 'GET', url, headers: await h.stack.identityHeaders(viewer, { method: 'GET', uri: url }) })
    return {
      status: res.statusCode,
      items: res.statusCode === 200 ? (res.json().items as Array<{ userId: string; status: string; lastSeenAt: string | null }>) : []
    }
  }
  const statusOf = async (viewer: TestUser, who: TestUser) => (await presence(viewer)).items.find((p) => p.userId === who.userId)?.status
  const aliceChange = (status: string) => (f: Frame) =>
    f.type === 'presence.changed' && (f.presences as Array<{ userId: string; status: string }>).some((p) => p.userId === alice.userId && p.status === status)

  const b = await h.connect(bob, { index: 1 })
  const m = await h.connect(mallory, { index: 0 })

  const a0 = await h.connect(alice, { index: 0 })
  await b.waitFor(aliceChange('online'), 10_000)
  t.pass("bob's socket on the other instance hears alice come online")
  const a1 = await h.connect(alice, { index: 1 })
  a1.send({ type: 'activity' })
  // hello does not wait for the presence report: let chat hear of the second socket first.
  for (let i = 0; i < 100; i++) {
    const r = await h.chat.pg.query('SELECT count(*)::int AS n FROM chat.presence_sockets WHERE user_id = $1', [alice.userId])
    if (r.rows[0].n === 2) break
    await sleep(50)
  }
  a0.close()
  await a0.closed
  // Give the close's report time to land before asking: it must not take her offline.
  await sleep(300)
  t.equal(await statusOf(bob, alice), 'online', 'still online through her socket on instance 1')
  t.notOk(b.frames.some(aliceChange('offline')), 'no offline in between')

  a1.close()
  const off = await b.waitFor(aliceChange('offline'), 10_000)
  const alicesOff = (off.presences as Array<{ userId: string; lastSeenAt: string | null }>).find((p) => p.userId === alice.userId)
  t.type(alicesOff?.lastSeenAt, 'string', 'offline with last seen, once her last socket anywhere closed')

  t.equal((await presence(mallory)).status, 404, "a stranger cannot read alice's presence through her conversation")
  t.notOk(
    m.frames.some((f) => f.type === 'presence.changed'),
    'and hears none of it'
  )

  t.test('a gateway instance shutting down takes only its own sockets', async (t) => {
    const from = b.frames.length
    const again = await h.connect(alice, { index: 1 })
    await b.waitFor((f) => aliceChange('online')(f) && b.frames.indexOf(f) >= from, 10_000)
    t.equal(await statusOf(bob, alice), 'online')
    await h.gateways[1]!.close()
    await again.closed
    // Bob's own socket was on that instance too: he asks over HTTP until the goodbye has landed.
    let status: string | undefined
    for (let i = 0; i < 100 && status !== 'offline'; i++) {
      status = await statusOf(bob, alice)
      if (status !== 'offline') await sleep(100)
    }
    t.equal(status, 'offline', "its goodbye removed her sockets there without waiting for the instance's expiry (90 s)")
  })
})

t.test('a report lost while chat was unreachable is sent again with the next heartbeat', async (t) => {
  const h = await gatewayHarness(t)
  const [alice, bob] = await Promise.all([h.stack.createUser(), h.stack.createUser()])
  const conv = await h.createConversation(alice, 'Outage', [bob])
  await h.chat.close()
  // No chat answers: the report of this socket fails.
  await h.connect(alice)
  const chat = await buildService(t, chatApp, h.stack.config(), { service: 'chat' })
  const url = `/api/chat/conversations/${conv.id}/presence`
  let status: string | undefined
  // The gateway announces itself every 30 s (PRESENCE_LIMITS.instanceHeartbeatMs) and retries then.
  for (let i = 0; i < 90 && status !== 'online'; i++) {
    const res = await chat.inject({ method: 'GET', url, headers: await h.stack.identityHeaders(bob, { method: 'GET', uri: url }) })
    status = (res.json().items as Array<{ userId: string; status: string }>).find((p) => p.userId === alice.userId)?.status
    if (status !== 'online') await sleep(1000)
  }
  t.equal(status, 'online', 'alice is online once chat is back')
})

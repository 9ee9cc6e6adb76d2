import t from 'tap'
import type { TestUser } from '@palisade/testkit'
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
    f.type === 'presence.changed' &&
    (f.presence as { userId: string; status: string }).userId === alice.userId &&
    (f.presence as { status: string }).status === status

  const b = await h.connect(bob, { index: 1 })
  const m = await h.connect(mallory, { index: 0 })

  const a0 = await h.connect(alice, { index: 0 })
  await b.waitFor(aliceChange('online'), 10_000)
  t.pass("bob's socket on the other instance hears alice come online")
  const a1 = await h.connect(alice, { index: 1 })
  a1.send({ type: 'activity' })
  a0.close()
  await a0.closed
  // Give the close's report time to land before asking: it must not take her offline.
  await sleep(300)
  t.equal(await statusOf(bob, alice), 'online', 'still online through her socket on instance 1')
  t.notOk(b.frames.some(aliceChange('offline')), 'no offline in between')

  a1.close()
  const off = await b.waitFor(aliceChange('offline'), 10_000)
  t.type((off.presence as { lastSeenAt: string }).lastSeenAt, 'string', 'offline with last seen, once her last socket anywhere closed')

  t.equal((await presence(mallory)).status, 404, "a stranger cannot read alice's presence through her conversation")
  t.notOk(
    m.frames.some((f) => f.type === 'presence.changed'),
    'and hears none of it'
  )

  t.test('a gateway instance shutting down takes only its own sockets', async (t) => {
    const again = await h.connect(alice, { index: 1 })
    await b.waitFor((f) => aliceChange('online')(f) && b.frames.indexOf(f) > b.frames.indexOf(off), 10_000)
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

import t from 'tap'
import { randomUUID } from 'node:crypto'
import { ChatPresenceGet, ChatPresenceReport, GatewayInstanceAlive, PRESENCE_LIMITS } from '@palisade/contracts'
import { createChatStore } from '../src/store/context.js'
import { sweepPresence } from '../src/store/presence.js'
import { PresenceAnnouncer } from '../src/lib/presence-announcer.js'
import { acting, chatHarness, collectEvents } from './helpers.js'

t.test('presence: aggregated over gateway instances, seen only by people sharing a conversation', async (t) => {
  const h = await chatHarness(t)
  const store = createChatStore(h.app, { maxMembers: 100 })
  const [alice, bob, mallory] = await Promise.all([h.stack.createUser(), h.stack.createUser(), h.stack.createUser()])
  const conv = await h.createConversation(alice, 'Team', [bob])
  const bobEvents = collectEvents(h.nc, bob.userId)
  const malloryEvents = collectEvents(h.nc, mallory.userId)
  const gw1 = randomUUID()
  const gw2 = randomUUID()

  /** what a gateway instance sends when alice's sockets there change */
  const report = async (user: { userId: string }, instanceId: string, sockets: number, active: boolean) => {
    const r = await h.nc.request(ChatPresenceReport.subject, JSON.stringify({ instanceId, sockets, active }), { headers: acting(user.userId) })
    if (r.headers?.get('Nats-Service-Error')) throw new Error(`report refused: ${r.headers.get('Nats-Service-Error')}`)
  }
  const presenceOf = async (viewer: { userId: string }, who: { userId: string }) => {
    const res = await h.as(viewer as never, 'GET', `/api/chat/conversations/${conv.id}/presence`)
    if (res.statusCode !== 200) throw new Error(`presence: ${res.statusCode}`)
    return (res.json().items as Array<{ userId: string; status: string; lastSeenAt: string | null; lastActiveAt: string | null }>).find(
      (p) => p.userId === who.userId
    )!
  }
  /** the next presence.changed to bob with this status, after the events seen so far */
  type Told = { userId: string; status: string; lastSeenAt: string | null }
  const told = (e: { type: string; presences?: unknown }) => (e.type === 'presence.changed' ? (e.presences as Told[]) : [])
  const nextChange = async (status: string) => {
    const from = bobEvents.events.length
    const e = await bobEvents.waitFor((e) => bobEvents.events.indexOf(e) >= from && told(e).some((p) => p.status === status))
    return told(e).find((p) => p.status === status)!
  }
  const changes = (userId: string) => bobEvents.events.flatMap((e) => told(e).filter((p) => p.userId === userId))

  t.test('never connected: offline without last seen', async (t) => {
    t.same(await presenceOf(bob, alice), { userId: alice.userId, status: 'offline', lastActiveAt: null, lastSeenAt: null })
  })

  t.test('online while any instance holds a socket', async (t) => {
    const online = nextChange('online')
    await report(alice, gw1, 1, true)
    await online
    t.equal((await presenceOf(bob, alice)).status, 'online')
    await report(alice, gw2, 2, true)
    await report(alice, gw1, 0, false)
    t.equal((await presenceOf(bob, alice)).status, 'online', 'closing the tab on one instance leaves her online')
    t.equal(changes(alice.userId).length, 1, 'no event while the status stays the same')
    const offline = nextChange('offline')
    await report(alice, gw2, 0, false)
    const off = await presenceOf(bob, alice)
    t.equal(off.status, 'offline', 'the last socket anywhere closed')
    t.type(off.lastSeenAt, 'string', 'with last seen')
    t.type((await offline).lastSeenAt, 'string', 'members hear it with last seen')
  })

  t.test('away after five minutes without activity, online again on activity', async (t) => {
    await report(alice, gw1, 1, true)
    await h.app.pg.query("UPDATE chat.presence_users SET last_active_at = now() - interval '6 minutes' WHERE user_id = $1", [alice.userId])
    const away = nextChange('away')
    t.equal(await sweepPresence(store), 1)
    await away
    t.equal((await presenceOf(bob, alice)).status, 'away')
    t.equal(await sweepPresence(store), 0, 'announced once')
    await report(alice, gw1, 1, true)
    t.equal((await presenceOf(bob, alice)).status, 'online')
  })

  t.test('an instance that stops announcing itself takes its sockets with it', async (t) => {
    h.nc.publish(GatewayInstanceAlive.subject, JSON.stringify({ instanceId: gw2, ttlMs: 60_000 }))
    await report(alice, gw2, 1, true)
    await h.app.pg.query("UPDATE chat.presence_instances SET expires_at = now() - interval '1 second' WHERE instance_id = $1", [gw1])
    await sweepPresence(store)
    t.equal((await presenceOf(bob, alice)).status, 'online', 'still on the live instance')
    const offline = nextChange('offline')
    h.nc.publish(GatewayInstanceAlive.subject, JSON.stringify({ instanceId: gw2, ttlMs: 0 }))
    await offline
    t.equal((await presenceOf(bob, alice)).status, 'offline', 'an instance saying goodbye takes her offline at once')
  })

  t.test('a stranger sees nothing', async (t) => {
    await report(alice, gw1, 1, true)
    const res = await h.as(mallory, 'GET', `/api/chat/conversations/${conv.id}/presence`)
    t.equal(res.statusCode, 404, 'not through a conversation they are not in')
    const viaNats = await h.nc.request(ChatPresenceGet.subject, JSON.stringify({ conversationId: conv.id }), { headers: acting(mallory.userId) })
    t.equal(viaNats.headers?.get('Nats-Service-Error-Code'), '404', 'nor over NATS')
    const own = await h.createConversation(mallory, 'Mine')
    const mine = await h.as(mallory, 'GET', `/api/chat/conversations/${own.id}/presence`)
    t.same(
      mine.json().items.map((p: { userId: string }) => p.userId),
      [mallory.userId],
      'only their own conversations'
    )
    t.notOk(
      malloryEvents.events.some((e) => e.type === 'presence.changed'),
      'and no presence event ever reached them'
    )
  })

  t.test('hidden presence reads offline without last seen', async (t) => {
    const offline = nextChange('offline')
    let res = await h.as(alice, 'PUT', '/api/chat/presence/settings', { hidden: true })
    t.same(res.json(), { hidden: true })
    t.same(await offline, { userId: alice.userId, status: 'offline', lastActiveAt: null, lastSeenAt: null }, 'hiding tells members "offline"')
    t.same(await presenceOf(bob, alice), { userId: alice.userId, status: 'offline', lastActiveAt: null, lastSeenAt: null })
    t.equal((await presenceOf(alice, alice)).status, 'online', 'she still sees herself')
    const before = changes(alice.userId).length
    await report(alice, gw1, 0, false)
    await report(alice, gw1, 1, true)
    t.equal(changes(alice.userId).length, before, 'coming and going while hidden tells nobody')
    res = await h.as(alice, 'GET', '/api/chat/presence/settings')
    t.same(res.json(), { hidden: true })
    res = await h.as(alice, 'PUT', '/api/chat/presence/settings', { hidden: 'yes' })
    t.equal(res.statusCode, 400)
    res = await h.as(alice, 'PUT', '/api/chat/presence/settings', { hidden: false })
    t.equal(res.statusCode, 200)
    t.equal((await presenceOf(bob, alice)).status, 'online', 'shown again')
  })

  t.test('reports are not held up by another in flight on the same instance', async (t) => {
    const gw = randomUUID()
    h.nc.publish(GatewayInstanceAlive.subject, JSON.stringify({ instanceId: gw, ttlMs: PRESENCE_LIMITS.instanceTtlMs }))
    await report({ userId: randomUUID() }, gw, 1, true)
    // Another transaction holds the instance's row, as a report or announcement does until it commits.
    const holder = await h.app.pg.connect()
    await holder.query('BEGIN')
    await holder.query('UPDATE chat.presence_instances SET expires_at = expires_at WHERE instance_id = $1', [gw])
    try {
      const users = Array.from({ length: 5 }, () => randomUUID())
      const answered = await Promise.allSettled(
        users.map((userId) =>
          h.nc.request(ChatPresenceReport.subject, JSON.stringify({ instanceId: gw, sockets: 1, active: true }), { headers: acting(userId), timeout: 2000 })
        )
      )
      t.same(
        answered.map((a) => a.status),
        users.map(() => 'fulfilled'),
        'every report of a connect wave is answered while the row is held'
      )
      const online = await h.app.pg.query('SELECT count(*)::int AS n FROM chat.presence_users WHERE user_id = ANY($1) AND status = $2', [users, 'online'])
      t.equal(online.rows[0].n, users.length, 'and each user is online')
    } finally {
      await holder.query('ROLLBACK')
      holder.release()
    }
  })

  t.test('a report renews an instance past half its life', async (t) => {
    const gw = randomUUID()
    await report(alice, gw, 1, true)
    await h.app.pg.query("UPDATE chat.presence_instances SET expires_at = now() + interval '10 seconds' WHERE instance_id = $1", [gw])
    await report(alice, gw, 1, true)
    const r = await h.app.pg.query<{ left: number }>(
      'SELECT extract(epoch FROM expires_at - now())::float AS left FROM chat.presence_instances WHERE instance_id = $1',
      [gw]
    )
    t.ok(r.rows[0]!.left > PRESENCE_LIMITS.instanceTtlMs / 1000 - 10, 'announcements stopped: the report keeps the instance alive')
    await report(alice, gw, 0, false)
  })

  t.test('reports are refused without an acting user and validated', async (t) => {
    const noUser = await h.nc.request(ChatPresenceReport.subject, JSON.stringify({ instanceId: gw1, sockets: 1, active: true }))
    t.equal(noUser.headers?.get('Nats-Service-Error-Code'), '401')
    const bad = await h.nc.request(ChatPresenceReport.subject, JSON.stringify({ instanceId: gw1, sockets: -1, active: true }), {
      headers: acting(alice.userId)
    })
    t.equal(bad.headers?.get('Nats-Service-Error-Code'), '400')
  })
})

t.test('changes announced together reach each peer in one event, with only what they may see', async (t) => {
  const h = await chatHarness(t)
  const [bob, carol, stranger, ...wave] = await Promise.all(Array.from({ length: 8 }, () => h.stack.createUser()))
  await h.createConversation(bob!, 'Everyone', wave)
  await h.createConversation(carol!, 'Two of them', wave.slice(0, 2))
  const events = new Map([bob!, carol!, stranger!, wave[1]!].map((u) => [u.userId, collectEvents(h.nc, u.userId)]))
  // A window longer than the test: only flush() sends, so what arrives is exactly one batch.
  const announcer = new PresenceAnnouncer(h.app.pg, h.app.nats, h.app.log, 60_000)
  const online = (u: { userId: string }) => ({ userId: u.userId, status: 'online' as const, lastActiveAt: new Date().toISOString(), lastSeenAt: null })
  for (const u of wave) announcer.announce(online(u))
  announcer.announce({ ...online(wave[0]!), status: 'away' })
  await announcer.flush()
  await h.nc.flush()
  await new Promise((r) => setTimeout(r, 300))

  const told = (userId: string) =>
    events
      .get(userId)!
      .events.filter((e) => e.type === 'presence.changed')
      .map((e) => (e.presences as Array<{ userId: string; status: string }>).map((p) => `${p.userId}:${p.status}`).sort())
  const expect = (users: typeof wave) => users.map((u) => `${u.userId}:${u === wave[0] ? 'away' : 'online'}`).sort()
  t.same(told(bob!.userId), [expect(wave)], 'bob: one event with all five, the latest change of each')
  t.same(told(carol!.userId), [expect(wave.slice(0, 2))], 'carol: one event with the two she shares a conversation with')
  t.same(told(stranger!.userId), [], 'a stranger hears nothing')
  t.same(told(wave[1]!.userId), [expect(wave.filter((u) => u !== wave[1]))], 'a changed person hears of the others, not of themselves')
})

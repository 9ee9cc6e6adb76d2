import t from 'tap'
import { buildService, baseUrl, type TestUser } from '@palisade/testkit'
import gatewayApp, { type GatewayAppConfig } from '@palisade/gateway'
import { gatewayHarness, sleep } from './helpers.js'

/**
 * Identity over the socket's life: revocation, expiry of the access token (real tokens, 6 s), renewal,
 * maximum lifetime, several gateway instances, shutdown.
 */
t.test('sessions and instances', async (t) => {
  const TTL = 6
  const h = await gatewayHarness(t, { auth: { AUTH_ACCESS_TTL_SECONDS: TTL }, more: [{}, { GATEWAY_MAX_LIFETIME_MS: 500 }] })
  const authPost = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(h.stack.authUrl + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  /** a second login (a second session) of the same user */
  async function login(user: TestUser): Promise<TestUser> {
    const res = await authPost('/auth/login', { email: user.email, password: user.password })
    const body = await res.json()
    return { ...user, sessionId: body.sessionId, accessToken: body.accessToken }
  }

  t.test('two gateway instances: events reach users wherever their sockets are', async (t) => {
    const [alice, bob] = await Promise.all([h.stack.createUser(), h.stack.createUser()])
    const conv = await h.createConversation(alice, 'Across instances', [bob])
    const a = await h.connect(alice, { index: 0 })
    const b1 = await h.connect(bob, { index: 1 })
    const b0 = await h.connect(bob, { index: 0 })
    a.send({ type: 'message.send', conversationId: conv.id, text: 'hi from gw0', clientMessageId: 'x-1' })
    for (const b of [b1, b0]) t.match(await b.type('message.created'), { message: { text: 'hi from gw0' } })
    b1.send({ type: 'typing', conversationId: conv.id })
    t.match(await a.type('typing'), { userId: bob.userId })
    await sleep(100)
    t.equal(b1.frames.filter((f) => f.type === 'message.created').length, 1, 'exactly once per socket')
    for (const c of [a, b0, b1]) c.close()
    await Promise.all([a.closed, b0.closed, b1.closed])
    await sleep(50)
    t.equal(h.gateways[1]!.gatewayHub.socketsOf(bob.userId), 0, 'the subscription goes with the last socket')
  })

  t.test('a revoked session closes its sockets within a second, on every instance', async (t) => {
    const alice = await h.stack.createUser()
    const other = await login(alice)
    const s0 = await h.connect(alice, { index: 0 })
    const s1 = await h.connect(alice, { index: 1 })
    const keep = await h.connect(other, { index: 0 })
    const replayed = await h.wsHeaders(alice) // an assertion issued before the logout, replayed after it
    const res = await authPost('/auth/logout', {}, { authorization: `Bearer ${alice.accessToken}` })
    t.equal(res.status, 204)
    for (const s of [s0, s1]) t.match(await s.closedWithin(1000), { code: 4001, reason: 'session revoked' }, 'logout')
    t.equal(await h.refused(replayed), 401, 'a still-unexpired assertion of the revoked session is refused')
    await sleep(100)
    t.equal(keep.ws.readyState, keep.ws.OPEN, "the user's other session is untouched")

    // DELETE /auth/sessions/:id from another session
    const third = await login(alice)
    const victim = await h.connect(third, { index: 1 })
    const delHeaders = await h.stack.identityHeaders(other, { method: 'DELETE', uri: `/auth/sessions/${third.sessionId}` })
    const del = await fetch(`${h.stack.authUrl}/auth/sessions/${third.sessionId}`, { method: 'DELETE', headers: delHeaders })
    t.equal(del.status, 204)
    t.match(await victim.closedWithin(1000), { code: 4001 }, 'session deleted')

    // password change revokes every other session
    const fourth = await login(alice)
    const old = await h.connect(fourth, { index: 0 })
    const pwHeaders = await h.stack.identityHeaders(other, { method: 'POST', uri: '/auth/password' })
    const pw = await fetch(`${h.stack.authUrl}/auth/password`, {
      method: 'POST',
      headers: { ...pwHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ currentPassword: alice.password, newPassword: 'a brand new passphrase 42' })
    })
    t.equal(pw.status, 204)
    t.match(await old.closedWithin(1000), { code: 4001 }, 'password changed')
    await sleep(100)
    t.equal(keep.ws.readyState, keep.ws.OPEN, 'the session that changed the password stays')
    keep.close()
  })

  t.test('an expired access token closes its socket at expiry unless the client re-authenticates', async (t) => {
    const [quiet, active] = await Promise.all([h.stack.createUser(), h.stack.createUser()])
    const q = await h.connect(quiet)
    const a = await h.connect(active)
    const qExp = Date.parse(q.frames[0]!.expiresAt as string)
    t.ok(qExp <= Date.now() + TTL * 1000 + 1000, 'the lease is no longer than the access token')

    // `active` refreshes its token (as a client does before expiry) and renews through the other instance
    await sleep(1100) // so that the new token expires later (whole seconds)
    const refreshed = await authPost('/auth/refresh', { refreshToken: active.refreshToken })
    t.equal(refreshed.status, 200)
    const fresh = { ...active, accessToken: (await refreshed.json()).accessToken as string }
    const headers = await h.stack.identityHeaders(fresh, { uri: '/ws' })
    const renew = await fetch(`${baseUrl(h.gateways[1]!)}/ws`, { headers })
    t.equal(renew.status, 200)
    const { expiresAt } = await renew.json()
    const renewed = await a.type('renewed')
    t.equal(renewed.expiresAt, expiresAt, 'the socket on the other instance was renewed')
    t.ok(Date.parse(expiresAt) > Date.parse(a.frames[0]!.expiresAt as string))

    const closed = await q.closedWithin(TTL * 1000 + 3000)
    t.match(closed, { code: 4002 }, 'the silent client is closed: identity expired')
    t.ok(Date.now() >= qExp - 50, 'not before its expiry')
    t.equal(a.ws.readyState, a.ws.OPEN, 'the re-authenticated socket outlives the original expiry')
    a.close()

    const noIdentity = await fetch(`${baseUrl(h.gw)}/ws`)
    t.equal(noIdentity.status, 401, 'renewal needs an identity, and only renews its own session')
  })

  t.test('maximum lifetime: closed with 4000 (reconnect)', async (t) => {
    const u = await h.stack.createUser()
    const c = await h.connect(u, { index: 2 })
    t.match(await c.closedWithin(2000), { code: 4000 })
  })

  t.test('graceful shutdown closes sockets with 1001', async (t) => {
    const extra = await buildService(t, gatewayApp, h.stack.config() as GatewayAppConfig, { service: 'gateway', listen: true })
    h.gateways.push(extra)
    const u = await h.stack.createUser()
    const c = await h.connect(u, { index: h.gateways.length - 1 })
    await extra.close()
    t.match(await c.closedWithin(1000), { code: 1001 })
  })
})

import t from 'tap'
import { gatewayHarness } from './helpers.js'

/**
 * An administrator's disable and demotion reach open sockets through the ordinary revocation path
 * (auth.session.revoked): every socket of the account closes with 4001, on every gateway instance.
 */
t.test('disabling a user or changing their role closes their sockets on every instance', async (t) => {
  const h = await gatewayHarness(t, { more: [{}] })
  const admin = await h.stack.createUser() // the first account of the fresh installation: admin
  const [victim, bystander] = await Promise.all([h.stack.createUser(), h.stack.createUser()])
  const asAdmin = async (path: string, body?: unknown) => {
    const headers = await h.stack.identityHeaders(admin, { method: 'POST', uri: path })
    return fetch(h.stack.authUrl + path, {
      method: 'POST',
      headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {})
    })
  }

  const s0 = await h.connect(victim, { index: 0 })
  const s1 = await h.connect(victim, { index: 1 })
  const other = await h.connect(bystander, { index: 0 })
  const started = Date.now()
  const res = await asAdmin(`/auth/admin/users/${victim.userId}/disable`)
  t.equal(res.status, 204)
  for (const s of [s0, s1]) t.match(await s.closedWithin(1000), { code: 4001, reason: 'session revoked' }, 'closed within a second')
  t.comment(`disable → both sockets closed in ${Date.now() - started} ms (request included)`)
  await t.rejects(h.wsHeaders(victim), /401/, 'no new handshake for the disabled account: the edge refuses it')
  t.equal(other.ws.readyState, other.ws.OPEN, 'nobody else’s socket closed')

  const fresh = await h.stack.createUser()
  const sock = await h.connect(fresh, { index: 1 })
  t.equal((await asAdmin(`/auth/admin/users/${fresh.userId}/role`, { role: 'admin' })).status, 204)
  t.match(await sock.closedWithin(1000), { code: 4001 }, 'a role change ends the sessions, sockets included')
  other.close()
})

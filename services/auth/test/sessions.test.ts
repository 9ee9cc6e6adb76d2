import { randomUUID } from 'node:crypto'
import t0, { test } from 'tap'
import type { TestUser } from '@palisade/testkit'
import { IDENTITY_HEADERS } from '@palisade/contracts'
import { generateSigningKey, signAssertion } from '@palisade/platform'
import { call, forwarded, ORIGIN, revocationEvents, signerOf, verifyAt, waitFor, startTestStack, type TestStack } from './helpers.js'

// One stack for the whole file: every test works with its own users, so they cannot interfere.
const stack = await startTestStack(t0)

/** A request to one of auth's forward-authed routes as the edge would relay it (identity headers from /verify). */
async function asUser(stack: TestStack, user: TestUser, method: string, url: string, json?: unknown) {
  const headers = await stack.identityHeaders(user, { method, uri: url })
  return stack.auth.inject({ method: method as 'GET', url, headers, ...(json !== undefined ? { payload: json as object } : {}) })
}

async function loginAgain(stack: TestStack, user: TestUser): Promise<TestUser> {
  const r = await call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email: user.email, password: user.password } })
  const body = r.json()
  return { ...user, sessionId: body.sessionId, accessToken: body.accessToken, cookie: `palisade_access=${body.accessToken}` }
}

const stillValid = async (stack: TestStack, u: TestUser) => (await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { cookie: u.cookie }))).status === 200

test('forward-authed routes trust only an assertion auth signed for itself', async (t) => {
  const alice = await stack.createUser({ displayName: 'Alice' })
  const me = await asUser(stack, alice, 'GET', '/auth/me')
  t.equal(me.statusCode, 200)
  t.match(me.json(), { id: alice.userId, email: alice.email, displayName: 'Alice' })

  const forChat = await stack.identityHeaders(alice, { uri: '/api/chat/x' })
  const key = signerOf(stack)
  const mint = (over: Partial<Parameters<typeof signAssertion>[1]> = {}, k = key) =>
    signAssertion(k, { issuer: 'palisade-auth', audience: 'auth', userId: alice.userId, sessionId: alice.sessionId, roles: ['user'], ...over }).token
  const cases: Record<string, Record<string, string>> = {
    'no identity at all': {},
    'a bare X-Authenticated-User': { [IDENTITY_HEADERS.user]: alice.userId },
    'the access token instead of an assertion': { [IDENTITY_HEADERS.user]: alice.userId, [IDENTITY_HEADERS.assertion]: alice.accessToken },
    'an assertion minted for chat': forChat,
    'an assertion for auth naming another user': { [IDENTITY_HEADERS.user]: randomUUID(), [IDENTITY_HEADERS.assertion]: mint() },
    'an assertion signed by a sibling’s key': { [IDENTITY_HEADERS.user]: alice.userId, [IDENTITY_HEADERS.assertion]: mint({}, generateSigningKey()) },
    'the access cookie alone': { cookie: alice.cookie },
    'a Bearer token alone': { authorization: `Bearer ${alice.accessToken}` }
  }
  for (const [name, headers] of Object.entries(cases)) {
    const r = await stack.auth.inject({ url: '/auth/me', headers })
    t.equal(r.statusCode, 401, name)
    t.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8', name)
  }
  // An assertion that is still valid but whose session was revoked in the database.
  const valid = { [IDENTITY_HEADERS.user]: alice.userId, [IDENTITY_HEADERS.assertion]: mint() }
  t.equal((await stack.auth.inject({ url: '/auth/me', headers: valid })).statusCode, 200)
  await stack.auth.pg.query('UPDATE auth.sessions SET revoked_at = now() WHERE id = $1', [alice.sessionId])
  const gone = await stack.auth.inject({ url: '/auth/me', headers: valid })
  t.equal(gone.statusCode, 401, 'session revoked in the database, assertion not yet expired')
  t.equal(gone.json().code, 'SESSION_REVOKED')
})

test('sessions: list, delete one (only your own), logout-all; every revocation is published', async (t) => {
  const { events } = await revocationEvents(stack, t)
  const alice = await stack.createUser()
  const alice2 = await loginAgain(stack, alice)
  const alice3 = await loginAgain(stack, alice)
  const mallory = await stack.createUser()

  const list = await asUser(stack, alice, 'GET', '/auth/sessions')
  t.equal(list.statusCode, 200)
  const sessions = list.json().sessions as { id: string; current: boolean }[]
  t.same(sessions.map((s) => s.id).sort(), [alice.sessionId, alice2.sessionId, alice3.sessionId].sort())
  t.same(
    sessions.filter((s) => s.current).map((s) => s.id),
    [alice.sessionId]
  )

  const foreign = await asUser(stack, mallory, 'DELETE', `/auth/sessions/${alice2.sessionId}`)
  t.equal(foreign.statusCode, 404, 'someone else’s session is not found, not forbidden')
  t.equal((await asUser(stack, mallory, 'DELETE', `/auth/sessions/${randomUUID()}`)).statusCode, 404, 'same answer as a session that does not exist')
  t.equal((await asUser(stack, mallory, 'DELETE', '/auth/sessions/not-a-uuid')).statusCode, 400)
  t.ok(await stillValid(stack, alice2), 'alice’s session survived mallory’s attempt')

  t.ok(await stillValid(stack, alice2), 'cached before the delete')
  const del = await asUser(stack, alice, 'DELETE', `/auth/sessions/${alice2.sessionId}`)
  t.equal(del.statusCode, 204)
  t.notOk(await stillValid(stack, alice2), 'the deleted session is refused at once')
  t.ok(await stillValid(stack, alice), 'the others live on')
  t.equal((await asUser(stack, alice, 'DELETE', `/auth/sessions/${alice2.sessionId}`)).statusCode, 404, 'deleting twice')
  await waitFor(() => events.length >= 1)
  t.match(events[0], { userId: alice.userId, sessionIds: [alice2.sessionId], reason: 'session-deleted' })

  const all = await asUser(stack, alice, 'POST', '/auth/logout-all')
  t.equal(all.statusCode, 204)
  t.notOk(await stillValid(stack, alice))
  t.notOk(await stillValid(stack, alice3))
  t.ok(await stillValid(stack, mallory), 'other users are untouched')
  await waitFor(() => events.length >= 2)
  t.equal(events[1]!.reason, 'logout-all')
  t.same([...events[1]!.sessionIds].sort(), [alice.sessionId, alice3.sessionId].sort())
})

test('logout revokes the session, clears cookies, and guards against cross-site use', async (t) => {
  const { events } = await revocationEvents(stack, t)
  const alice = await stack.createUser()
  const out = (headers: Record<string, string>) => call(`${stack.authUrl}/auth/logout`, { method: 'POST', headers })

  const csrf = await out({ cookie: alice.cookie, origin: 'https://evil.example' })
  t.equal(csrf.status, 403, 'a foreign page cannot log the user out')
  t.equal((await out({ cookie: alice.cookie })).status, 403, 'cookie logout needs an Origin')
  t.ok(await stillValid(stack, alice))

  const ok = await out({ cookie: alice.cookie, origin: ORIGIN })
  t.equal(ok.status, 204)
  const cleared = ok.headers.getSetCookie()
  t.ok(
    cleared.some((c) => c.startsWith('palisade_access=;') && /Max-Age=0|Expires=Thu, 01 Jan 1970/.test(c)),
    'access cookie cleared'
  )
  t.ok(
    cleared.some((c) => c.startsWith('palisade_refresh=;') && c.includes('Path=/auth/refresh')),
    'refresh cookie cleared'
  )
  t.notOk(await stillValid(stack, alice))
  await waitFor(() => events.length >= 1)
  t.match(events[0], { userId: alice.userId, sessionIds: [alice.sessionId], reason: 'logout' })
  t.equal((await out({ cookie: alice.cookie, origin: ORIGIN })).status, 204, 'logging out twice is harmless')
  t.equal((await out({})).status, 204, 'no session, nothing to do')
  t.equal((await out({ authorization: 'Bearer x.y.z' })).status, 204, 'an invalid token revokes nothing')
  await new Promise((r) => setTimeout(r, 100))
  t.equal(events.length, 1, 'no further revocations')
})

test('password change: needs the current password, keeps this session, revokes the others', async (t) => {
  const { events } = await revocationEvents(stack, t)
  const alice = await stack.createUser()
  const other = await loginAgain(stack, alice)
  const NEW = 'amber-lantern-coastline-47'

  const wrong = await asUser(stack, alice, 'POST', '/auth/password', { currentPassword: 'not-my-password', newPassword: NEW })
  t.equal(wrong.statusCode, 403)
  t.equal(wrong.json().code, 'INVALID_CREDENTIALS')
  const weak = await asUser(stack, alice, 'POST', '/auth/password', { currentPassword: alice.password, newPassword: 'password1234' })
  t.equal(weak.statusCode, 400)
  t.equal(weak.json().code, 'WEAK_PASSWORD')
  const same = await asUser(stack, alice, 'POST', '/auth/password', { currentPassword: alice.password, newPassword: alice.password })
  t.equal(same.statusCode, 400)
  const extra = await asUser(stack, alice, 'POST', '/auth/password', { currentPassword: alice.password, newPassword: NEW, userId: randomUUID() })
  t.equal(extra.statusCode, 400, 'unknown fields')
  t.ok(await stillValid(stack, other), 'nothing changed so far')

  const ok = await asUser(stack, alice, 'POST', '/auth/password', { currentPassword: alice.password, newPassword: NEW })
  t.equal(ok.statusCode, 204)
  t.ok(await stillValid(stack, alice), 'the session that changed it stays')
  t.notOk(await stillValid(stack, other), 'every other session is revoked')
  await waitFor(() => events.length >= 1)
  t.match(events[0], { userId: alice.userId, sessionIds: [other.sessionId], reason: 'password-changed' })
  const oldPw = await call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email: alice.email, password: alice.password } })
  t.equal(oldPw.status, 401, 'the old password no longer works')
  const newPw = await call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email: alice.email, password: NEW } })
  t.equal(newPw.status, 200)
})

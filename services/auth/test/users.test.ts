import { randomUUID } from 'node:crypto'
import t0, { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { TestUser } from '@palisade/testkit'
import { IDENTITY_HEADERS } from '@palisade/contracts'
import { generateSigningKey, signAssertion } from '@palisade/platform'
import { signerOf, startTestStack } from './helpers.js'

// One stack for the whole file: every test works with its own users.
const stack = await startTestStack(t0)

/** GET /auth/users?… as the edge relays it: identity headers from the real /auth/verify. */
async function lookup(user: TestUser, query: string, app: FastifyInstance = stack.auth) {
  const headers = await stack.identityHeaders(user, { uri: `/auth/users?${query}` })
  return app.inject({ url: `/auth/users?${query}`, headers })
}

/** POST /auth/users/lookup with a JSON body (anything, to try bad ones), as the edge relays it. */
async function byEmail(user: TestUser, body: unknown, app: FastifyInstance = stack.auth) {
  const headers = await stack.identityHeaders(user, { method: 'POST', uri: '/auth/users/lookup' })
  return app.inject({ method: 'POST', url: '/auth/users/lookup', headers, payload: body as object })
}

const PROBLEM = 'application/problem+json; charset=utf-8'
const ids = (n: number) => Array.from({ length: n }, () => `id=${randomUUID()}`).join('&')

test('email lookup (POST, the address in the body): exact match on the normalised address, id and display name only', async (t) => {
  const bob = await stack.createUser({ displayName: 'Bob Builder', email: `bob-${randomUUID().slice(0, 8)}@example.org` })
  const alice = await stack.createUser()
  const leaks: string[] = []

  for (const typed of [bob.email, bob.email.toUpperCase(), `  ${bob.email}  `, `\t${bob.email.replace('bob', 'BoB')} `]) {
    const r = await byEmail(alice, { email: typed })
    t.equal(r.statusCode, 200, JSON.stringify(typed))
    t.same(r.json(), { id: bob.userId, displayName: 'Bob Builder' }, 'exactly id and displayName')
    leaks.push(r.body)
  }
  t.same((await byEmail(bob, { email: bob.email })).json(), { id: bob.userId, displayName: 'Bob Builder' }, 'looking up yourself works too')

  const missing = await byEmail(alice, { email: `nobody-${randomUUID().slice(0, 8)}@example.org` })
  t.equal(missing.statusCode, 404)
  t.equal(missing.headers['content-type'], PROBLEM)
  t.equal(missing.json().code, 'NOT_FOUND')
  leaks.push(missing.body)

  // Near misses are misses: no prefix, substring or domain matching.
  const [local, domain] = bob.email.split('@') as [string, string]
  for (const near of [`${local}@${domain}.x`, `x${bob.email}`, `${local.slice(0, -1)}@${domain}`]) {
    const r = await byEmail(alice, { email: near })
    t.equal(r.statusCode, 404, near)
    leaks.push(r.body)
  }
  const bad = await byEmail(alice, { email: local })
  t.equal(bad.statusCode, 400, 'not an address')
  leaks.push(bad.body)

  for (const body of leaks) {
    t.notMatch(body.toLowerCase(), local.toLowerCase(), 'no answer carries the address or its local part')
    t.notMatch(body.toLowerCase(), domain.toLowerCase())
  }
})

test('id lookup: known ids answer their profiles in the order asked, unknown ones are left out', async (t) => {
  const alice = await stack.createUser({ displayName: 'Alice' })
  const bob = await stack.createUser({ displayName: 'Bob' })
  const carol = await stack.createUser({ displayName: '<b>Carol</b>' })
  const unknown = randomUUID()

  const r = await lookup(alice, `id=${carol.userId}&id=${unknown}&id=${bob.userId.toUpperCase()}&id=${alice.userId}`)
  t.equal(r.statusCode, 200)
  t.same(r.json(), {
    users: [
      { id: carol.userId, displayName: '<b>Carol</b>' },
      { id: bob.userId, displayName: 'Bob' },
      { id: alice.userId, displayName: 'Alice' }
    ]
  })
  for (const u of [alice, bob, carol]) t.notMatch(r.body, u.email, 'no email in the answer')

  const one = await lookup(alice, `id=${bob.userId}`)
  t.same(one.json(), { users: [{ id: bob.userId, displayName: 'Bob' }] }, 'a single id is a list of one')
  t.same((await lookup(alice, `id=${unknown}`)).json(), { users: [] }, 'nobody known: an empty list, not 404')

  const hundred = await lookup(alice, `${ids(99)}&id=${bob.userId}`)
  t.equal(hundred.statusCode, 200, '100 ids are allowed')
  t.same(hundred.json(), { users: [{ id: bob.userId, displayName: 'Bob' }] })
})

test('bad queries and bodies are 400 problem+json with a stable code and never reach the database', async (t) => {
  const alice = await stack.createUser()
  const queries: Record<string, string> = {
    'no id': '',
    'an email in the query (the address never goes in a URL)': `email=${encodeURIComponent(alice.email)}`,
    'an email beside an id': `email=${encodeURIComponent(alice.email)}&id=${alice.userId}`,
    'not a uuid': 'id=nope',
    'an empty id': 'id=',
    'a uuid with extra characters': `id=${alice.userId}x`,
    '101 ids': ids(101),
    'the same id twice': `id=${alice.userId}&id=${alice.userId}`,
    'an unknown key': `id=${alice.userId}&foo=1`,
    'an unknown key alone': 'displayName=Alice',
    'a bracketed array key': `id[]=${alice.userId}`
  }
  const refused = (name: string, r: { statusCode: number; headers: Record<string, unknown>; body: string; json(): { code: string } }) => {
    t.equal(r.statusCode, 400, name)
    t.equal(r.headers['content-type'], PROBLEM, name)
    t.equal(r.json().code, 'VALIDATION_FAILED', name)
    t.notMatch(r.body, alice.email, `${name}: no email echoed`)
  }
  for (const [name, query] of Object.entries(queries)) refused(name, await lookup(alice, query))
  const bodies: Record<string, unknown> = {
    'no body key': {},
    'not an email': { email: 'not-an-email' },
    'an empty email': { email: '' },
    'only spaces': { email: '   ' },
    'a too long email': { email: `${'a'.repeat(250)}@example.org` },
    'two emails': { email: [alice.email, alice.email] },
    'a number': { email: 42 },
    'an extra key': { email: alice.email, id: alice.userId },
    'a JSON array': [alice.email]
  }
  for (const [name, body] of Object.entries(bodies)) refused(name, await byEmail(alice, body))
  const headers = await stack.identityHeaders(alice, { method: 'POST', uri: '/auth/users/lookup' })
  const garbled = await stack.auth.inject({
    method: 'POST',
    url: '/auth/users/lookup',
    headers: { ...headers, 'content-type': 'application/json' },
    payload: '{"email":'
  })
  t.equal(garbled.statusCode, 400, 'malformed JSON')
  const jsonString = await stack.auth.inject({
    method: 'POST',
    url: '/auth/users/lookup',
    headers: { ...headers, 'content-type': 'application/json' },
    payload: JSON.stringify(alice.email)
  })
  t.equal(jsonString.statusCode, 400, 'a bare JSON string')
  const text = await stack.auth.inject({
    method: 'POST',
    url: '/auth/users/lookup',
    headers: { ...headers, 'content-type': 'text/plain' },
    payload: alice.email
  })
  t.equal(text.statusCode, 400, 'not JSON at all (a text body is no object)')
  t.equal(text.headers['content-type'], PROBLEM)
  t.equal(garbled.headers['content-type'], PROBLEM)
  const oversized = await stack.auth.inject({
    method: 'POST',
    url: '/auth/users/lookup',
    headers: { ...headers, 'content-type': 'application/json' },
    payload: JSON.stringify({ email: 'x'.repeat(20_000) })
  })
  t.ok([400, 413].includes(oversized.statusCode), `an oversized body is refused (${oversized.statusCode})`)
  t.equal(oversized.headers['content-type'], PROBLEM)
})

test('only a signed-in user with an assertion auth signed for itself may ask', async (t) => {
  const alice = await stack.createUser()
  const bob = await stack.createUser({ displayName: 'Bob' })
  const url = `/auth/users?id=${bob.userId}`
  const forChat = await stack.identityHeaders(alice, { uri: '/api/chat/x' })
  const mint = (over: Partial<Parameters<typeof signAssertion>[1]> = {}, key = signerOf(stack)) =>
    signAssertion(key, { issuer: 'palisade-auth', audience: 'auth', userId: alice.userId, sessionId: alice.sessionId, roles: ['user'], ...over }).token
  const cases: Record<string, Record<string, string>> = {
    'no identity at all': {},
    'a bare X-Authenticated-User': { [IDENTITY_HEADERS.user]: alice.userId },
    'a forged assertion': { [IDENTITY_HEADERS.user]: alice.userId, [IDENTITY_HEADERS.assertion]: 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA' },
    'the access token instead of an assertion': { [IDENTITY_HEADERS.user]: alice.userId, [IDENTITY_HEADERS.assertion]: alice.accessToken },
    'an assertion minted for chat': forChat,
    'an assertion for auth naming another user': { [IDENTITY_HEADERS.user]: randomUUID(), [IDENTITY_HEADERS.assertion]: mint() },
    'an assertion signed by another key': { [IDENTITY_HEADERS.user]: alice.userId, [IDENTITY_HEADERS.assertion]: mint({}, generateSigningKey()) },
    'the access cookie alone': { cookie: alice.cookie },
    'a Bearer token alone': { authorization: `Bearer ${alice.accessToken}` }
  }
  for (const [name, headers] of Object.entries(cases)) {
    for (const req of [
      { method: 'GET' as const, url },
      { method: 'POST' as const, url: '/auth/users/lookup', payload: { email: bob.email } }
    ]) {
      const r = await stack.auth.inject({ ...req, headers })
      t.equal(r.statusCode, 401, `${name}: ${req.method}`)
      t.equal(r.headers['content-type'], PROBLEM, name)
      t.notMatch(r.body, 'Bob', 'nothing about the user')
    }
  }
  const valid = { [IDENTITY_HEADERS.user]: alice.userId, [IDENTITY_HEADERS.assertion]: mint() }
  t.equal((await stack.auth.inject({ url, headers: valid })).statusCode, 200, 'control: a valid assertion is accepted')
  await stack.auth.pg.query('UPDATE auth.sessions SET revoked_at = now() WHERE id = $1', [alice.sessionId])
  const revoked = await stack.auth.inject({ url, headers: valid })
  t.equal(revoked.statusCode, 401, 'a revoked session with a still valid assertion')
  t.equal(revoked.json().code, 'SESSION_REVOKED')
})

test('email lookups are rate limited per user (429 with retry-after); id lookups have their own budget', async (t) => {
  const limited = await stack.startAuth({ AUTH_USER_LOOKUPS_PER_MINUTE: 3 })
  const alice = await stack.createUser()
  const mallory = await stack.createUser()
  const bob = await stack.createUser({ displayName: 'Bob' })
  const probe = (u: TestUser, n: number) => byEmail(u, { email: `probe${n}-${randomUUID().slice(0, 8)}@example.org` }, limited.app)

  for (let i = 0; i < 3; i++) t.equal((await probe(mallory, i)).statusCode, 404, `probe ${i + 1} of 3`)
  const over = await probe(mallory, 3)
  t.equal(over.statusCode, 429, 'the fourth lookup within a minute is refused')
  t.equal(over.headers['content-type'], PROBLEM)
  t.equal(over.json().code, 'TOO_MANY_REQUESTS')
  const retry = Number(over.headers['retry-after'])
  t.ok(retry >= 1 && retry <= 60, `retry-after ${over.headers['retry-after']}`)
  const hit = await byEmail(mallory, { email: bob.email }, limited.app)
  t.equal(hit.statusCode, 429, 'an existing address answers the same 429: the limit hides hits too')
  t.notMatch(hit.body, 'Bob')

  t.equal((await lookup(mallory, `id=${bob.userId}`, limited.app)).statusCode, 200, 'display names still resolve (separate budget)')
  t.equal((await probe(alice, 9)).statusCode, 404, 'another user has their own budget')
})

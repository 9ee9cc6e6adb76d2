import t0, { test } from 'tap'
import { IDENTITY_HEADERS, PERSONAL_TOKEN_PATTERN } from '@palisade/contracts'
import type { TestUser } from '@palisade/testkit'
import { decodeJwt, forwarded, revocationEvents, startTestStack, verifyAt, waitFor } from './helpers.js'
import { ageAuthentication, asUser } from './mfa-helpers.js'
import { isWellFormedPersonalToken, newPersonalToken, revokePersonalTokens } from '../src/lib/personal-tokens.js'

const stack = await startTestStack(t0)
const WS_KEY = { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }

async function mint(user: Pick<TestUser, 'accessToken'>, scopes: string[], extra: Record<string, unknown> = {}) {
  const r = await asUser(stack, user, 'POST', '/auth/tokens', { name: 'ci bot', scopes, expiresInDays: 30, ...extra })
  if (r.status !== 201) throw new Error(`mint: ${r.status} ${JSON.stringify(r.json())}`)
  return r.json() as { token: string; info: { id: string; last4: string; scopes: string[] } }
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

test('creating a token needs step-up; it is shown once, stored hashed, listed with its last four', async (t) => {
  const u = await stack.createUser()
  await ageAuthentication(stack, u.sessionId)
  const stale = await asUser(stack, u, 'POST', '/auth/tokens', { name: 'x', scopes: ['read'], expiresInDays: 1 })
  t.equal(stale.status, 401)
  t.equal(stale.json().code, 'REAUTH_REQUIRED', 'a stolen, older session cannot mint a token')
  t.equal((await asUser(stack, u, 'POST', '/auth/reauth', { password: u.password })).status, 200)

  const { token, info } = await mint(u, ['read', 'write'])
  t.match(token, PERSONAL_TOKEN_PATTERN, 'recognisable prefix and shape')
  t.ok(isWellFormedPersonalToken(token), 'checksum matches')
  t.ok(Buffer.from(token.slice(8, 51), 'base64url').length >= 32, 'at least 256 random bits')
  t.equal(info.last4, token.slice(-4))

  const list = await asUser(stack, u, 'GET', '/auth/tokens')
  t.equal(list.status, 200)
  t.same(
    list.json().tokens.map((x: { id: string; last4: string }) => [x.id, x.last4]),
    [[info.id, token.slice(-4)]]
  )
  t.notOk(JSON.stringify(list.json()).includes(token.slice(8, 40)), 'the list never shows the token')
  const rows = await stack.auth.pg.query('SELECT row_to_json(t)::text AS j FROM auth.personal_tokens t WHERE user_id = $1', [u.userId])
  t.notOk(rows.rows[0].j.includes(token.slice(8, 40)), 'the database holds only a hash')
})

test('token creation input is validated; admin scope only for admins', async (t) => {
  const u = await stack.createUser()
  const bad: unknown[] = [
    { name: 'x', scopes: ['read'], expiresInDays: 366 },
    { name: 'x', scopes: ['read'], expiresInDays: 0 },
    { name: 'x', scopes: ['root'], expiresInDays: 1 },
    { name: 'x', scopes: [], expiresInDays: 1 },
    { name: 'x', scopes: ['read', 'read'], expiresInDays: 1 },
    { name: '', scopes: ['read'], expiresInDays: 1 },
    { name: 'a'.repeat(65), scopes: ['read'], expiresInDays: 1 },
    { name: 'line\nbreak', scopes: ['read'], expiresInDays: 1 },
    { name: 'x', scopes: ['read'], expiresInDays: 1, userId: u.userId }
  ]
  for (const body of bad) {
    const r = await asUser(stack, u, 'POST', '/auth/tokens', body)
    t.equal(r.status, 400, JSON.stringify(body))
  }
  const admin = await asUser(stack, u, 'POST', '/auth/tokens', { name: 'x', scopes: ['admin'], expiresInDays: 1 })
  t.equal(admin.status, 403, 'a member cannot grant admin')
  const count = await stack.auth.pg.query('SELECT count(*)::int AS n FROM auth.personal_tokens WHERE user_id = $1', [u.userId])
  t.equal(count.rows[0].n, 0, 'nothing half-written')

  const year = await mint(u, ['read'], { expiresInDays: 365 })
  const exp = await stack.auth.pg.query('SELECT expires_at - created_at AS d FROM auth.personal_tokens WHERE id = $1', [year.info.id])
  t.equal(exp.rows[0].d.days, 365)

  await stack.auth.pg.query("UPDATE auth.users SET roles = '{admin}' WHERE id = $1", [u.userId])
  const plain = await mint(u, ['read'])
  const full = await mint(u, ['read', 'admin'])
  const roles = async (token: string) => {
    const r = await verifyAt(stack.auth, forwarded('GET', '/api/chat/conversations', bearer(token)))
    t.equal(r.status, 200)
    return decodeJwt(r.headers.get(IDENTITY_HEADERS.assertion)!).payload.roles
  }
  t.same(await roles(plain.token), ['member'], 'an admin’s token without the admin scope acts as a member')
  t.ok((await roles(full.token)).includes('admin'), 'with the admin scope it keeps the role')
})

test('/auth/verify applies the route table’s scopes to a token, which is its own session', async (t) => {
  const u = await stack.createUser()
  const read = await mint(u, ['read'])
  const ok = await verifyAt(stack.auth, forwarded('GET', '/api/chat/conversations', bearer(read.token)))
  t.equal(ok.status, 200)
  t.equal(ok.headers.get(IDENTITY_HEADERS.user), u.userId)
  t.equal(ok.headers.get(IDENTITY_HEADERS.session), read.info.id, 'the token id is the session')
  t.match(decodeJwt(ok.headers.get(IDENTITY_HEADERS.assertion)!).payload, { sub: u.userId, sid: read.info.id, aud: 'chat' })

  const refused: [string, string][] = [
    ['POST', '/api/chat/conversations'],
    ['DELETE', '/api/chat/conversations/x'],
    ['GET', '/api/files'],
    ['GET', '/api/agents'],
    ['GET', '/ws'],
    ['GET', '/auth/sessions'],
    ['POST', '/auth/logout-all'],
    ['POST', '/auth/password'],
    ['POST', '/auth/reauth'],
    ['POST', '/auth/mfa/totp'],
    ['GET', '/auth/tokens'],
    ['POST', '/auth/tokens'],
    ['GET', '/']
  ]
  for (const [method, uri] of refused) {
    const r = await verifyAt(stack.auth, forwarded(method, uri, bearer(read.token)))
    t.equal(r.status, 403, `${method} ${uri}`)
    t.equal(r.json().code, 'INSUFFICIENT_SCOPE', `${method} ${uri}`)
    t.equal(r.headers.get(IDENTITY_HEADERS.user), null)
  }
  const me = await asUser(stack, { accessToken: read.token }, 'GET', '/auth/me')
  t.equal(me.status, 200, 'a read token may ask who it is')
  t.equal(me.json().id, u.userId)

  const rw = await mint(u, ['read', 'write'])
  t.equal((await verifyAt(stack.auth, forwarded('POST', '/api/chat/conversations', bearer(rw.token)))).status, 200)
  const ws = await verifyAt(stack.auth, forwarded('GET', '/ws', { ...bearer(rw.token), ...WS_KEY }))
  t.equal(ws.status, 200, 'the WebSocket needs read and write')
  t.equal((await verifyAt(stack.auth, forwarded('POST', '/api/files', bearer(rw.token)))).status, 403)
  const files = await mint(u, ['files'])
  t.equal((await verifyAt(stack.auth, forwarded('POST', '/api/files', bearer(files.token)))).status, 200)
  t.equal((await verifyAt(stack.auth, forwarded('GET', '/api/chat/conversations', bearer(files.token)))).status, 403)
})

test('forged, tampered, expired and misplaced tokens are refused; cookie and bearer never mix', async (t) => {
  const u = await stack.createUser()
  const { token } = await mint(u, ['read'])
  const at = (headers: Record<string, string>) => verifyAt(stack.auth, forwarded('GET', '/api/chat/conversations', headers))

  const flipped = `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`
  t.equal((await at(bearer(flipped))).status, 401, 'one character changed: the checksum fails')
  t.equal((await at(bearer(newPersonalToken()))).status, 401, 'well-formed but never issued')
  t.equal((await at(bearer(`${token}x`))).status, 401, 'trailing garbage')
  t.equal((await at(bearer(token.toUpperCase()))).status, 401)
  t.equal((await at({ authorization: `Token ${token}` })).status, 401)
  t.equal((await at({ cookie: `palisade_access=${token}` })).status, 401, 'a token in the access cookie is not accepted')

  const mixed = await at({ ...bearer(token), cookie: u.cookie })
  t.equal(mixed.status, 400)
  t.equal(mixed.json().code, 'MIXED_CREDENTIALS')
  const mixed2 = await at({ authorization: `Bearer ${u.accessToken}`, cookie: `palisade_access=${token}` })
  t.equal(mixed2.status, 400, 'whichever way round')
  t.equal((await at({ ...bearer(token), cookie: 'theme=dark' })).status, 200, 'unrelated cookies are fine')

  // Expired before its first use (a cached token stops at its expiry too: the entry carries it).
  const late = await mint(u, ['read'])
  await stack.auth.pg.query("UPDATE auth.personal_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", [late.info.id])
  const expired = await at(bearer(late.token))
  t.equal(expired.status, 401)
  t.equal(expired.json().code, 'TOKEN_EXPIRED')
  t.notOk(
    (await asUser(stack, u, 'GET', '/auth/tokens')).json().tokens.some((x: { id: string }) => x.id === late.info.id),
    'not listed'
  )

  // A bearer token from a foreign page is still refused on an unsafe request (it named its Origin).
  const foreign = await verifyAt(stack.auth, forwarded('POST', '/api/chat/x', { ...bearer(token), origin: 'https://evil.example' }))
  t.equal(foreign.status, 403)
})

test('revoking a token stops it at once on every auth instance, sockets included', async (t) => {
  const u = await stack.createUser()
  const other = await stack.createUser()
  const { token, info } = await mint(u, ['read', 'write'])
  const second = await stack.startAuth()
  const at = (app: typeof stack.auth) => verifyAt(app, forwarded('GET', '/api/chat/conversations', bearer(token)))
  t.equal((await at(stack.auth)).status, 200)
  t.equal((await at(second.app)).status, 200, 'cached on a second instance')
  const { events } = await revocationEvents(stack, t)

  t.equal((await asUser(stack, other, 'DELETE', `/auth/tokens/${info.id}`)).status, 404, 'someone else’s token is not found')
  t.equal((await at(stack.auth)).status, 200)

  t.equal((await asUser(stack, u, 'DELETE', `/auth/tokens/${info.id}`)).status, 204)
  const here = await at(stack.auth)
  t.equal(here.status, 401, 'refused by the revoking instance immediately')
  t.ok(await waitFor(async () => (await at(second.app)).status === 401, 5000), 'and by the other instance after the event')
  t.ok(await waitFor(() => events.length > 0, 5000))
  t.match(events[0], { userId: u.userId, sessionIds: [info.id], reason: 'token-revoked' }, 'the event gateways close sockets on')
  t.equal((await asUser(stack, u, 'DELETE', `/auth/tokens/${info.id}`)).status, 404, 'revoked once')
  t.same((await asUser(stack, u, 'GET', '/auth/tokens')).json().tokens, [])
})

test('disabling a user revokes all of their tokens (revokePersonalTokens without ids)', async (t) => {
  const u = await stack.createUser()
  const a = await mint(u, ['read'])
  const b = await mint(u, ['files'])
  t.equal((await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', bearer(a.token)))).status, 200)
  const ids = await revokePersonalTokens(stack.auth.authCore, u.userId)
  t.same(ids.sort(), [a.info.id, b.info.id].sort())
  t.equal((await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', bearer(a.token)))).status, 401)
  t.equal((await verifyAt(stack.auth, forwarded('GET', '/api/files', bearer(b.token)))).status, 401)
  const me = await asUser(stack, u, 'GET', '/auth/me')
  t.equal(me.status, 200, 'the browser session is a separate matter')
})

test('each token has its own request budget; last use is recorded', async (t) => {
  const u = await stack.createUser()
  const a = await mint(u, ['read'])
  const b = await mint(u, ['read'])
  const limited = await stack.startAuth({ AUTH_TOKEN_REQUESTS_PER_MINUTE: 5 })
  const at = (token: string) => verifyAt(limited.app, forwarded('GET', '/api/chat/conversations', bearer(token)))
  for (let i = 0; i < 5; i++) t.equal((await at(a.token)).status, 200, `request ${i + 1}`)
  const over = await at(a.token)
  t.equal(over.status, 429)
  t.equal(over.json().code, 'TOO_MANY_REQUESTS')
  t.ok(Number(over.headers.get('retry-after')) >= 1)
  t.equal((await at(b.token)).status, 200, 'another token of the same user is not held back')
  t.equal((await verifyAt(limited.app, forwarded('GET', '/api/chat/conversations', { cookie: u.cookie }))).status, 200, 'nor the user’s browser')

  const used = await waitFor(async () => {
    const list = (await asUser(stack, u, 'GET', '/auth/tokens')).json().tokens as { id: string; lastUsedAt: string | null }[]
    return list.find((x) => x.id === a.info.id)?.lastUsedAt !== null
  }, 5000)
  t.ok(used, 'last use shows in the list')
})

test('at most 50 live tokens per user', async (t) => {
  const u = await stack.createUser()
  await stack.auth.pg.query(
    `INSERT INTO auth.personal_tokens (id, user_id, name, token_hash, last4, scopes, expires_at)
     SELECT gen_random_uuid(), $1, 'n' || g, 'h' || g || $2, 'abcd', '{read}', now() + interval '1 day' FROM generate_series(1, 50) g`,
    [u.userId, u.userId]
  )
  const r = await asUser(stack, u, 'POST', '/auth/tokens', { name: 'one more', scopes: ['read'], expiresInDays: 1 })
  t.equal(r.status, 409)
  t.equal((await asUser(stack, u, 'GET', '/auth/tokens')).json().tokens.length, 50)
})

test('WebSocket handshakes: bearer in Authorization or Sec-WebSocket-Protocol; Origin binds cookies only', async (t) => {
  const u = await stack.createUser()
  const { token, info } = await mint(u, ['read', 'write'])
  const ws = (headers: Record<string, string>) => verifyAt(stack.auth, forwarded('GET', '/ws', { ...WS_KEY, ...headers }))
  const protocol = (tok: string) => ({ 'sec-websocket-protocol': `palisade, palisade.bearer.${tok}` })

  const header = await ws({ ...bearer(token), origin: 'https://elsewhere.example' })
  t.equal(header.status, 200, 'a bearer handshake is not bound to an Origin (no ambient credential to hijack)')
  t.equal(header.headers.get(IDENTITY_HEADERS.session), info.id)
  const viaProtocol = await ws(protocol(token))
  t.equal(viaProtocol.status, 200, 'the token as a subprotocol value')
  t.equal(viaProtocol.headers.get(IDENTITY_HEADERS.session), info.id)
  t.equal((await ws(protocol(u.accessToken))).headers.get(IDENTITY_HEADERS.session), u.sessionId, 'a session access token works the same way')

  const cookieForeign = await ws({ cookie: u.cookie, origin: 'https://evil.example' })
  t.equal(cookieForeign.status, 403, 'a cookie handshake from a foreign page is still hijacking')
  t.equal(cookieForeign.json().code, 'FORBIDDEN_ORIGIN')
  t.equal((await ws({ ...protocol(token), cookie: u.cookie, origin: 'http://localhost:8080' })).status, 400, 'protocol bearer beside a cookie')
  t.equal((await ws({ ...protocol(token), ...bearer(token) })).status, 400, 'two bearers')
  t.equal((await ws({ 'sec-websocket-protocol': `palisade.bearer.${token}, palisade.bearer.${token}` })).status, 401, 'offered twice')
  t.equal((await ws({ 'sec-websocket-protocol': `palisade, palisade.bearer.${token.slice(0, -1)}` })).status, 401, 'malformed')
  const plain = await verifyAt(stack.auth, forwarded('GET', '/ws', protocol(token)))
  t.equal(plain.status, 401, 'only a handshake reads the subprotocol header')
  const api = await verifyAt(stack.auth, forwarded('GET', '/api/chat/conversations', { ...protocol(token), ...WS_KEY }))
  t.equal(api.status, 200, 'a handshake on any route may carry it (scopes still apply)')
  const readOnly = await mint(u, ['read'])
  t.equal((await ws(protocol(readOnly.token))).status, 403, 'the socket needs write as well')
})

test('disabling a user ends their tokens at once, on every instance; enabling does not revive them', async (t) => {
  const { events } = await revocationEvents(stack, t)
  const admin = await stack.createUser()
  await stack.auth.pg.query("UPDATE auth.users SET roles = '{admin}' WHERE id = $1", [admin.userId])
  const bot = await stack.createUser()
  const { token, info } = await mint(bot, ['read', 'write'])
  const at = () => verifyAt(stack.auth, forwarded('GET', '/api/chat/conversations', bearer(token)))
  t.equal((await at()).status, 200, 'the token works (and is now in the verify cache)')

  t.equal((await asUser(stack, admin, 'POST', `/auth/admin/users/${bot.userId}/disable`)).status, 204)
  t.ok(await waitFor(() => events.some((e) => e.userId === bot.userId && e.sessionIds.includes(info.id))), 'the token id is announced like a session')
  t.equal((await at()).status, 401, 'the cached token is refused')
  t.equal((await asUser(stack, admin, 'POST', `/auth/admin/users/${bot.userId}/enable`)).status, 204)
  t.equal((await at()).status, 401, 'a token revoked by a disable stays revoked')
})

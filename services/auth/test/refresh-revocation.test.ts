import { test } from 'tap'
import { call, forwarded, ORIGIN, revocationEvents, verifyAt, waitFor, startTestStack } from './helpers.js'

test('refresh rotates; reusing a rotated token revokes the whole family', async (t) => {
  // Without the grace window, which refresh-grace.test.ts covers: here every reuse is theft.
  const stack = await startTestStack(t, { auth: { AUTH_REFRESH_GRACE_SECONDS: 0 } })
  const { events } = await revocationEvents(stack, t)
  const alice = await stack.createUser()
  const refresh = (headers: Record<string, string>, json?: unknown) =>
    call(`${stack.authUrl}/auth/refresh`, { method: 'POST', headers, ...(json !== undefined ? { json } : {}) })
  const cookieOf = (a: Awaited<ReturnType<typeof refresh>>, name: string) =>
    a.headers
      .getSetCookie()
      .find((c) => c.startsWith(`${name}=`))
      ?.split(';')[0]!
      .slice(name.length + 1)

  const r1 = await refresh({ cookie: `palisade_refresh=${alice.refreshToken}`, origin: ORIGIN })
  t.equal(r1.status, 200)
  t.equal(r1.json().sessionId, alice.sessionId, 'same session (family)')
  t.notOk('refreshToken' in r1.json(), 'a browser refresh keeps the new refresh token in the httpOnly cookie only')
  const rt1 = cookieOf(r1, 'palisade_refresh')!
  t.not(rt1, alice.refreshToken, 'rotated')
  const at1 = r1.json().accessToken as string
  t.equal(cookieOf(r1, 'palisade_access'), at1)
  t.equal((await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { authorization: `Bearer ${at1}` }))).status, 200, 'the new access token works')

  const r2 = await refresh({}, { refreshToken: rt1 })
  t.equal(r2.status, 200, 'API clients send it in the body')
  const rt2 = r2.json().refreshToken as string
  t.match(rt2, /^[A-Za-z0-9_-]{43}$/, 'and get the next one in the body')

  // A thief replays the token alice already rotated.
  const reuse = await refresh({}, { refreshToken: rt1 })
  t.equal(reuse.status, 401)
  t.equal(reuse.json().code, 'REFRESH_TOKEN_REUSED')
  t.equal((await refresh({}, { refreshToken: rt2 })).status, 401, 'the newest token of the family is dead too')
  t.equal((await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { authorization: `Bearer ${at1}` }))).status, 401, 'and so are its access tokens')
  t.equal((await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { cookie: alice.cookie }))).status, 401)
  await waitFor(() => events.length >= 1)
  t.match(events[0], { userId: alice.userId, sessionIds: [alice.sessionId], reason: 'refresh-reuse' })
  const audit = await stack.auth.pg.query("SELECT event FROM auth.audit_log WHERE event = 'refresh.reused'")
  t.equal(audit.rowCount, 1, 'recorded in the audit log')

  const bob = await stack.createUser()
  const cases: [string, Record<string, string>, unknown, number][] = [
    ['no token', {}, undefined, 401],
    ['unknown token', {}, { refreshToken: 'A'.repeat(43) }, 401],
    ['malformed token', {}, { refreshToken: 'short' }, 400],
    ['unknown field', {}, { refreshToken: bob.refreshToken, sessionId: bob.sessionId }, 400],
    ['cookie from a foreign page', { cookie: `palisade_refresh=${bob.refreshToken}`, origin: 'https://evil.example' }, undefined, 403],
    ['cookie without Origin', { cookie: `palisade_refresh=${bob.refreshToken}` }, undefined, 403],
    ['access token as refresh token', {}, { refreshToken: bob.accessToken.slice(0, 120).replace(/\./g, '_') }, 401]
  ]
  for (const [name, headers, json, status] of cases) t.equal((await refresh(headers, json)).status, status, name)
  const big = await call(`${stack.authUrl}/auth/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken: 'x'.repeat(2000) })
  })
  t.equal(big.status, 413, 'over the 1 KiB route limit')
  t.equal(
    (await refresh({ cookie: `palisade_refresh=${bob.refreshToken}`, origin: ORIGIN })).status,
    200,
    'bob’s family is untouched and his token was not consumed by the refused attempts'
  )
})

test('a revocation on one auth instance is effective on another within a second', async (t) => {
  const stack = await startTestStack(t)
  const second = await stack.startAuth()
  const alice = await stack.createUser()
  const bob = await stack.createUser()
  const onSecond = (cookie: string) => verifyAt(second.app, forwarded('GET', '/api/chat/x', { cookie }))

  for (const u of [alice, bob]) {
    t.equal((await onSecond(u.cookie)).status, 200, 'verified (and cached) on the second instance')
    t.equal((await onSecond(u.cookie)).status, 200, 'served from its cache')
  }
  // Revoke on the first instance only.
  const started = Date.now()
  t.equal((await call(`${stack.authUrl}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${alice.accessToken}` } })).status, 204)
  const revokedInTime = await waitFor(async () => (await onSecond(alice.cookie)).status === 401, 1000)
  t.ok(revokedInTime, `refused on the second instance after ${Date.now() - started} ms`)
  t.equal((await onSecond(bob.cookie)).status, 200, 'other sessions stay valid')

  // logout-all through the first instance's forward-authed route.
  const bob2 = await (async () => {
    const r = await call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email: bob.email, password: bob.password } })
    return `palisade_access=${r.json().accessToken}`
  })()
  t.equal((await onSecond(bob2)).status, 200)
  const headers = await stack.identityHeaders(bob, { method: 'POST', uri: '/auth/logout-all' })
  t.equal((await stack.auth.inject({ method: 'POST', url: '/auth/logout-all', headers })).statusCode, 204)
  t.ok(
    await waitFor(async () => (await onSecond(bob.cookie)).status === 401 && (await onSecond(bob2)).status === 401, 1000),
    'every session of bob is refused on the second instance'
  )
})

import { randomUUID } from 'node:crypto'
import t0, { test } from 'tap'
import jwt from 'jsonwebtoken'
import { AuthJwksGet, IDENTITY_HEADERS } from '@palisade/contracts'
import { connectNats, generateSigningKey, JwksCache, natsRequest, verifyAssertion } from '@palisade/platform'
import { safeNext } from '../src/routes/verify.js'
import { call, decodeJwt, forwarded, ORIGIN, signerOf, verifyAt, startTestStack } from './helpers.js'

// One stack for the whole file: every test works with its own users, so they cannot interfere.
const stack = await startTestStack(t0)

test('/auth/verify: identity headers and an assertion for the target service', async (t) => {
  const alice = await stack.createUser()
  const nc = await connectNats({ url: stack.natsUrl, name: 'test' })
  t.teardown(() => nc.close())
  const jwks = new JwksCache(() => natsRequest(nc, AuthJwksGet, {}))

  const targets: [string, string][] = [
    ['/api/chat/conversations?limit=5', 'chat'],
    ['/api/files/abc', 'files'],
    ['/api/agents', 'agents'],
    ['/auth/me', 'auth'],
    [`/auth/sessions/${randomUUID()}`, 'auth']
  ]
  for (const [uri, service] of targets) {
    for (const via of ['cookie', 'bearer'] as const) {
      const auth = via === 'cookie' ? { cookie: alice.cookie } : { authorization: `Bearer ${alice.accessToken}` }
      const r = await verifyAt(stack.auth, forwarded('GET', uri, { ...auth, 'x-request-id': 'req-123' }))
      t.equal(r.status, 200, `${uri} via ${via}`)
      t.equal(r.headers.get(IDENTITY_HEADERS.user), alice.userId)
      t.equal(r.headers.get(IDENTITY_HEADERS.session), alice.sessionId)
      t.equal(r.headers.get('x-request-id'), 'req-123', 'the proxy’s request id is kept')
      const assertion = r.headers.get(IDENTITY_HEADERS.assertion)!
      const claims = await verifyAssertion(assertion, { issuer: 'palisade-auth', audience: service as 'chat', keyFor: (kid) => jwks.keyFor(kid) })
      t.equal(claims.sub, alice.userId)
      t.equal(claims.sid, alice.sessionId)
      t.ok(claims.exp - claims.iat <= 60, 'assertion lives at most 60 s')
      t.equal(decodeJwt(assertion).header.alg, 'ES256')
    }
  }
  const ws = await verifyAt(stack.auth, forwarded('GET', '/ws', { cookie: alice.cookie, origin: ORIGIN, 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }))
  t.equal(ws.status, 200, 'WebSocket handshake from an allowed origin')
  t.equal(decodeJwt(ws.headers.get(IDENTITY_HEADERS.assertion)!).payload.aud, 'gateway')

  const web = await verifyAt(stack.auth, forwarded('GET', '/', { cookie: alice.cookie, accept: 'text/html' }))
  t.equal(web.status, 200, 'the app page is forward-authed')
  t.equal(web.headers.get(IDENTITY_HEADERS.user), alice.userId)
  t.equal(web.headers.get(IDENTITY_HEADERS.assertion), null, 'no assertion for the static web service')

  const a1 = await verifyAt(stack.auth, forwarded('GET', '/api/chat/a', { cookie: alice.cookie }))
  const a2 = await verifyAt(stack.auth, forwarded('POST', '/api/chat/b', { cookie: alice.cookie, origin: ORIGIN }))
  t.equal(a1.headers.get(IDENTITY_HEADERS.assertion), a2.headers.get(IDENTITY_HEADERS.assertion), 'one assertion per (session, audience) is reused')
})

test('/auth/verify: a lease renewal gets a fresh assertion, a handshake the cached one', async (t) => {
  const alice = await stack.createUser()
  const wsKey = { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' }
  const assertion = async (headers: Record<string, string>) =>
    (await verifyAt(stack.auth, forwarded('GET', '/ws', { cookie: alice.cookie, ...headers }))).headers.get(IDENTITY_HEADERS.assertion)!
  const handshake = await assertion({ ...wsKey, origin: ORIGIN })
  t.equal(await assertion({}), handshake, 'a renewal right after the handshake shares its assertion')
  await new Promise((r) => setTimeout(r, 6000))
  t.equal(await assertion({ ...wsKey, origin: ORIGIN }), handshake, 'a handshake reuses it while more than 15 s are left')
  const renewed = await assertion({})
  t.not(renewed, handshake, 'a renewal 6 s later is signed anew')
  t.ok((decodeJwt(renewed).payload.exp as number) >= (decodeJwt(handshake).payload.exp as number) + 5, 'so the lease moves on')
})

test('/auth/verify refuses forged, tampered, confused, expired and revoked tokens', async (t) => {
  const alice = await stack.createUser()
  const key = signerOf(stack)
  const other = generateSigningKey()
  const now = Math.floor(Date.now() / 1000)
  const claims = {
    iss: 'palisade-auth',
    aud: 'palisade-access',
    sub: alice.userId,
    sid: alice.sessionId,
    jti: randomUUID(),
    iat: now,
    exp: now + 600,
    roles: ['member']
  }
  const es = (payload: object, k = key, header: object = { typ: 'at+jwt' }) =>
    jwt.sign(payload, k.privateKey, { algorithm: 'ES256', keyid: k.kid, header: { alg: 'ES256', kid: k.kid, ...header } })
  const publicPem = key.publicKey.export({ format: 'pem', type: 'spki' }).toString()
  const [h, p, s] = alice.accessToken.split('.') as [string, string, string]
  const tamperedPayload = Buffer.from(JSON.stringify({ ...decodeJwt(alice.accessToken).payload, sub: randomUUID() })).toString('base64url')
  const chatAssertion = (await stack.identityHeaders(alice, { uri: '/api/chat/x' }))[IDENTITY_HEADERS.assertion]!

  t.equal(
    (await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { authorization: `Bearer ${es(claims)}` }))).status,
    200,
    'control: a token we sign ourselves passes'
  )

  const cases: Record<string, string> = {
    'signed by a key auth does not hold': es(claims, other),
    'signed by a foreign key claiming our kid': jwt.sign(claims, other.privateKey, {
      algorithm: 'ES256',
      header: { alg: 'ES256', kid: key.kid, typ: 'at+jwt' }
    }),
    'tampered payload, original signature': `${h}.${tamperedPayload}.${s}`,
    'signature stripped': `${h}.${p}.`,
    'alg none': jwt.sign(claims, '', { algorithm: 'none', header: { alg: 'none', kid: key.kid, typ: 'at+jwt' } } as jwt.SignOptions),
    'HS256 keyed with the public key': jwt.sign(claims, publicPem, { algorithm: 'HS256', header: { alg: 'HS256', kid: key.kid, typ: 'at+jwt' } }),
    'wrong issuer': es({ ...claims, iss: 'evil' }),
    'wrong audience': es({ ...claims, aud: 'chat' }),
    'an identity assertion replayed as an access token': chatAssertion,
    'no typ header': es(claims, key, { typ: undefined }),
    expired: es({ ...claims, iat: now - 1000, exp: now - 100 }),
    'lifetime longer than 15 minutes': es({ ...claims, exp: now + 3600 }),
    'extra claim': es({ ...claims, scope: 'admin' }),
    'a role auth never gives': es({ ...claims, roles: ['superuser'] }),
    'no roles claim': es({ ...claims, roles: undefined }),
    'unknown session': es({ ...claims, sid: randomUUID() }),
    'session of another user': es({ ...claims, sub: randomUUID() }),
    garbage: 'a.b.c'
  }
  for (const [name, token] of Object.entries(cases)) {
    for (const via of ['bearer', 'cookie']) {
      const auth = via === 'bearer' ? { authorization: `Bearer ${token}` } : { cookie: `palisade_access=${token}` }
      const r = await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', auth))
      t.equal(r.status, 401, `${name} (${via})`)
      t.equal(r.headers.get('content-type'), 'application/problem+json; charset=utf-8')
      t.equal(r.headers.get(IDENTITY_HEADERS.assertion), null)
      t.equal(r.headers.get(IDENTITY_HEADERS.user), null)
    }
  }
  const expired = await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { authorization: `Bearer ${cases.expired}` }))
  t.equal(expired.json().code, 'TOKEN_EXPIRED')

  const viaQuery = await verifyAt(stack.auth, forwarded('GET', `/api/chat/x?access_token=${alice.accessToken}&token=${alice.accessToken}`))
  t.equal(viaQuery.status, 401, 'a token in the query string is never read')
  const tossed = await verifyAt(
    stack.auth,
    forwarded('GET', '/api/chat/x', { cookie: `palisade_access=${cases['signed by a key auth does not hold']}; palisade_access=${alice.accessToken}` })
  )
  t.equal(tossed.status, 401, 'two access cookies (cookie tossing) are refused, whichever comes first')
  const tossed2 = await verifyAt(
    stack.auth,
    forwarded('GET', '/api/chat/x', { cookie: `palisade_access=${alice.accessToken}; other=1; palisade_access=${alice.accessToken}` })
  )
  t.equal(tossed2.status, 401)
  t.equal(
    (await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { cookie: `a=1; palisade_access=${alice.accessToken}; b=2` }))).status,
    200,
    'among other cookies'
  )
  const basic = await verifyAt(
    stack.auth,
    forwarded('GET', '/api/chat/x', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}`, cookie: alice.cookie })
  )
  t.equal(basic.status, 401, 'a malformed Authorization header is not silently replaced by the cookie')

  // Revocation: the token was verified (and cached) above; after logout it is refused at once.
  t.equal((await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { cookie: alice.cookie }))).status, 200)
  const out = await call(`${stack.authUrl}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${alice.accessToken}` } })
  t.equal(out.status, 204)
  const revoked = await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { cookie: alice.cookie }))
  t.equal(revoked.status, 401, 'revoked session')
  t.equal(revoked.json().code, 'SESSION_REVOKED')
  t.equal(
    (await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { authorization: `Bearer ${es(claims)}` }))).status,
    401,
    'a fresh token for the revoked session is refused too'
  )
})

test('/auth/verify never asserts for something that is not a forward-authed service route', async (t) => {
  const alice = await stack.createUser()
  const auth = { cookie: alice.cookie }
  for (const uri of [
    '/auth/verify',
    '/auth/jwks',
    '/.well-known/jwks.json',
    '/healthz',
    '/readyz',
    '/internal/x',
    '/metrics',
    '/nowhere',
    '/apichat',
    '/api/chatty'
  ]) {
    const r = await verifyAt(stack.auth, forwarded('GET', uri, auth))
    t.equal(r.status, 404, `${uri} is not routed`)
    t.equal(r.headers.get(IDENTITY_HEADERS.assertion), null)
  }
  for (const uri of [
    '/api/chat/../files/x',
    '/api/chat/%2e%2e/files',
    '/api/chat%2f..%2ffiles',
    '/api//chat/x',
    '/api/chat\\..\\files',
    'api/chat/x',
    'http://evil/api/chat/x',
    ''
  ]) {
    const r = await verifyAt(stack.auth, forwarded('GET', uri, auth))
    t.equal(r.status, 401, `path trick ${JSON.stringify(uri)}`)
    t.equal(r.headers.get(IDENTITY_HEADERS.assertion), null)
  }
  const noMethod = await verifyAt(stack.auth, { 'x-forwarded-uri': '/api/chat/x', ...auth })
  t.equal(noMethod.status, 401, 'without the proxy’s X-Forwarded-Method')
  const noUri = await verifyAt(stack.auth, { 'x-forwarded-method': 'GET', ...auth })
  t.equal(noUri.status, 401, 'without the proxy’s X-Forwarded-Uri')
  const pub = await verifyAt(stack.auth, forwarded('GET', '/login', auth))
  t.equal(pub.status, 200, 'public routes pass')
  t.equal(pub.headers.get(IDENTITY_HEADERS.user), null, 'but carry no identity')
})

test('/auth/verify: Origin rules for cookie-authenticated unsafe requests and WebSockets', async (t) => {
  const alice = await stack.createUser()
  const cookie = { cookie: alice.cookie }
  const bearer = { authorization: `Bearer ${alice.accessToken}` }
  const wsKey = { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' }
  const cases: [string, string, string, Record<string, string>, number][] = [
    ['cookie POST from the app', 'POST', '/api/chat/x', { ...cookie, origin: ORIGIN }, 200],
    ['cookie POST without Origin', 'POST', '/api/chat/x', cookie, 403],
    ['cookie POST from a foreign site', 'POST', '/api/chat/x', { ...cookie, origin: 'https://evil.example' }, 403],
    ['cookie DELETE from a foreign site', 'DELETE', '/api/files/x', { ...cookie, origin: 'https://evil.example' }, 403],
    ['cookie PUT with Origin null', 'PUT', '/api/chat/x', { ...cookie, origin: 'null' }, 403],
    ['cookie PATCH from a look-alike origin', 'PATCH', '/api/chat/x', { ...cookie, origin: 'http://localhost:8080.evil.example' }, 403],
    ['cookie GET from a foreign site (safe method)', 'GET', '/api/chat/x', { ...cookie, origin: 'https://evil.example' }, 200],
    ['bearer POST without Origin (API client)', 'POST', '/api/chat/x', bearer, 200],
    ['bearer POST from a foreign site', 'POST', '/api/chat/x', { ...bearer, origin: 'https://evil.example' }, 403],
    ['WebSocket from the app', 'GET', '/ws', { ...cookie, ...wsKey, origin: ORIGIN }, 200],
    ['WebSocket from a foreign site', 'GET', '/ws', { ...cookie, ...wsKey, origin: 'https://evil.example' }, 403],
    ['WebSocket without Origin', 'GET', '/ws', { ...cookie, ...wsKey }, 403],
    ['WebSocket without Origin, Upgrade only', 'GET', '/ws', { ...cookie, upgrade: 'websocket' }, 403],
    ['lease renewal (plain GET /ws) from the app without Origin, as browsers send it', 'GET', '/ws', cookie, 200],
    ['lease renewal from the app naming its Origin', 'GET', '/ws', { ...cookie, origin: ORIGIN }, 200],
    ['lease renewal from a foreign site', 'GET', '/ws', { ...cookie, origin: 'https://evil.example' }, 403],
    ['lease renewal by POST from a foreign site', 'POST', '/ws', { ...cookie, origin: 'https://evil.example' }, 403],
    ['WebSocket upgrade on an API route from a foreign site', 'GET', '/api/chat/x', { ...cookie, upgrade: 'websocket', origin: 'https://evil.example' }, 403],
    ['WebSocket handshake keyed on Sec-WebSocket-Key alone', 'GET', '/api/chat/x', { ...cookie, ...wsKey, origin: 'https://evil.example' }, 403]
  ]
  for (const [name, method, uri, headers, status] of cases) {
    const r = await verifyAt(stack.auth, forwarded(method, uri, headers))
    t.equal(r.status, status, name)
    if (status === 403) {
      t.equal(r.json().code, 'FORBIDDEN_ORIGIN', name)
      t.equal(r.headers.get(IDENTITY_HEADERS.assertion), null, name)
    }
  }
})

test('/auth/verify: 302 to the login page for page loads only, never an open redirect', async (t) => {
  const html = { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' }
  const nav = await verifyAt(stack.auth, forwarded('GET', '/api/chat/c/1?tab=2', { ...html, 'sec-fetch-mode': 'navigate' }))
  t.equal(nav.status, 302)
  t.equal(nav.headers.get('location'), `/login?next=${encodeURIComponent('/api/chat/c/1?tab=2')}`)
  t.equal((await verifyAt(stack.auth, forwarded('GET', '/', html))).status, 302, 'text/html without Sec-Fetch-Mode (older browsers)')
  const expired = await verifyAt(stack.auth, forwarded('GET', '/', { ...html, cookie: 'palisade_access=a.b.c' }))
  t.equal(expired.status, 302, 'a bad cookie on a page load goes to the login page too')

  const api = await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { accept: 'application/json' }))
  t.equal(api.status, 401)
  t.equal(api.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  t.equal(api.json().code, 'UNAUTHENTICATED')
  t.equal((await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { ...html, 'sec-fetch-mode': 'cors' }))).status, 401, 'fetch() asking for HTML')
  t.equal((await verifyAt(stack.auth, forwarded('GET', '/ws', { ...html, 'sec-websocket-key': 'x' }))).status, 401, 'WebSocket handshakes get 401, never 302')

  for (const uri of ['/api/chat/x?next=https://evil.example', '/api/chat/x?u=%2F%2Fevil.example']) {
    const r = await verifyAt(stack.auth, forwarded('GET', uri, html))
    const next = new URL(r.headers.get('location')!, 'http://localhost').searchParams.get('next')!
    t.ok(next.startsWith('/') && !next.startsWith('//') && !next.includes('\\'), `next stays relative: ${next}`)
    t.ok(r.headers.get('location')!.startsWith('/login?next='), 'to our own login page')
  }
  for (const bad of [
    '//evil.example/',
    '/\\evil.example',
    '\\\\evil.example',
    'https://evil.example/',
    '/%2F%2Fevil.example',
    '/%5Cevil.example',
    '/javascript:alert(1)',
    '/x//y',
    '/a\r\nLocation: https://evil',
    ' /x',
    '',
    undefined,
    `/${'a'.repeat(3000)}`
  ]) {
    t.equal(safeNext(bad), '/', `safeNext(${JSON.stringify(bad)?.slice(0, 40)})`)
  }
  t.equal(safeNext('/api/chat/c/1?tab=2'), '/api/chat/c/1?tab=2')
})

test('/auth/verify fails closed when the database is gone', async (t) => {
  const alice = await stack.createUser()
  const other = await stack.startAuth()
  await other.app.pg.end()
  const r = await verifyAt(other.app, forwarded('GET', '/api/chat/x', { cookie: alice.cookie, 'x-request-id': 'req-db-down' }))
  t.equal(r.status, 503, 'no identity without the session check')
  t.equal(r.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  t.equal(r.headers.get(IDENTITY_HEADERS.user), null)
  t.equal(r.json().code, 'SERVICE_UNAVAILABLE')
  t.notMatch(r.text, /pool|postgres|Error/i, 'nothing about internals')
})

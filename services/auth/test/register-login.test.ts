import { test } from 'tap'
import { call, decodeJwt, setCookies, ORIGIN, startTestStack } from './helpers.js'

const GOOD = 'violet-kettle-harbour-92'

test('register', async (t) => {
  const stack = await startTestStack(t)
  const reg = (json: unknown, headers: Record<string, string> = {}) => call(`${stack.authUrl}/auth/register`, { method: 'POST', json, headers })

  const created = await reg({ email: '  Alice@Example.COM ', password: GOOD, displayName: 'Alice' })
  t.equal(created.status, 201)
  t.match(created.json(), { id: /^[0-9a-f-]{36}$/, email: 'alice@example.com', displayName: 'Alice' })
  t.notOk('password' in created.json() || 'passwordHash' in created.json(), 'no secret in the answer')

  const dup = await reg({ email: 'ALICE@example.com', password: GOOD, displayName: 'Alice 2' })
  t.equal(dup.status, 409, 'the same address in another case is taken')
  t.equal((await reg({ email: 'alice@example.com\t', password: GOOD, displayName: 'Alice 3' })).status, 409, 'and with whitespace around it')
  t.equal(dup.json().code, 'EMAIL_TAKEN')
  t.equal(dup.headers.get('content-type'), 'application/problem+json; charset=utf-8')

  const stored = await stack.auth.pg.query('SELECT email, password_hash FROM auth.users')
  t.equal(stored.rowCount, 1)
  t.match(stored.rows[0].password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'argon2id, never the password')

  const cases: [string, unknown, number, string][] = [
    ['11 characters', { email: 'b@example.com', password: 'abcdefghijk', displayName: 'B' }, 400, 'VALIDATION_FAILED'],
    ['1025 characters', { email: 'b@example.com', password: 'x'.repeat(1025), displayName: 'B' }, 400, 'VALIDATION_FAILED'],
    ['a common password', { email: 'b@example.com', password: 'qwertyuiop123', displayName: 'B' }, 400, 'WEAK_PASSWORD'],
    ['a common password in capitals', { email: 'b@example.com', password: 'PASSWORDPASSWORD', displayName: 'B' }, 400, 'WEAK_PASSWORD'],
    ['a common password with a year', { email: 'b@example.com', password: 'iloveyou2024', displayName: 'B' }, 400, 'WEAK_PASSWORD'],
    ['one character repeated', { email: 'b@example.com', password: 'zzzzzzzzzzzzzzzz', displayName: 'B' }, 400, 'WEAK_PASSWORD'],
    ['not an email', { email: 'not-an-email', password: GOOD, displayName: 'B' }, 400, 'VALIDATION_FAILED'],
    ['unknown field', { email: 'b@example.com', password: GOOD, displayName: 'B', roles: ['admin'] }, 400, 'VALIDATION_FAILED'],
    ['control characters in the name', { email: 'b@example.com', password: GOOD, displayName: 'B\u0000\u001b[2J' }, 400, 'VALIDATION_FAILED'],
    ['missing field', { email: 'b@example.com', password: GOOD }, 400, 'VALIDATION_FAILED']
  ]
  for (const [name, body, status, code] of cases) {
    const r = await reg(body)
    t.equal(r.status, status, name)
    t.equal(r.json().code, code, name)
  }
  const big = await call(`${stack.authUrl}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'c@example.com', password: GOOD, displayName: 'C', pad: 'x'.repeat(20_000) })
  })
  t.equal(big.status, 413, 'bodies over the route limit')
  t.equal(big.json().code, 'BODY_TOO_LARGE')
  const foreign = await reg({ email: 'd@example.com', password: GOOD, displayName: 'D' }, { origin: 'https://evil.example' })
  t.equal(foreign.status, 403, 'a foreign page cannot register in the visitor’s browser')
  t.equal(foreign.json().code, 'FORBIDDEN_ORIGIN')
  t.equal((await stack.auth.pg.query('SELECT 1 FROM auth.users')).rowCount, 1, 'no partial writes from refused requests')
})

test('login: cookies, token claims, body token', async (t) => {
  const stack = await startTestStack(t)
  await stack.createUser({ email: 'bob@example.com', password: GOOD })
  const res = await call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email: ' BOB@example.com', password: GOOD }, headers: { origin: ORIGIN } })
  t.equal(res.status, 200)
  const body = res.json()
  t.match(body, { user: { email: 'bob@example.com' }, sessionId: /^[0-9a-f-]{36}$/, tokenType: 'Bearer', expiresIn: 900 })
  t.equal(res.headers.get('cache-control'), 'no-store')

  const cookies = setCookies(res)
  const access = cookies.find((c) => c.startsWith('palisade_access='))!
  const refresh = cookies.find((c) => c.startsWith('palisade_refresh='))!
  t.ok(access && refresh, 'both cookies set')
  for (const attr of ['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/', 'Max-Age=900']) t.ok(access.split('; ').includes(attr), `access cookie ${attr}`)
  for (const attr of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/auth/refresh']) t.ok(refresh.split('; ').includes(attr), `refresh cookie ${attr}`)
  t.equal(access.split(';')[0], `palisade_access=${body.accessToken}`, 'the body carries the same access token')
  t.match(refresh.split(';')[0], /^palisade_refresh=[A-Za-z0-9_-]{43}$/, '256-bit opaque refresh token')
  const stored = await stack.auth.pg.query('SELECT token_hash FROM auth.refresh_tokens')
  const raw = refresh.split(';')[0]!.split('=')[1]!
  t.notOk(
    stored.rows.some((r) => r.token_hash === raw),
    'refresh tokens are stored hashed'
  )

  const { header, payload } = decodeJwt(body.accessToken)
  t.equal(header.alg, 'ES256')
  t.ok(header.kid, 'kid header')
  t.same(Object.keys(payload).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'roles', 'sid', 'sub'])
  t.same(payload.roles, ['admin'], 'the role rides in the access token (the first account is the admin)')
  t.equal(payload.sub, body.user.id)
  t.equal(payload.sid, body.sessionId)
  t.equal(payload.iss, 'palisade-auth')
  t.ok((payload.exp as number) - (payload.iat as number) <= 900, 'at most 15 minutes')
})

test('login answers unknown email and wrong password identically', async (t) => {
  // Every attempt comes from its own address (through a trusted proxy) so the IP throttle stays out of the way.
  const stack = await startTestStack(t, { auth: { TRUSTED_PROXIES: '127.0.0.1' } })
  await stack.createUser({ email: 'carol@example.com', password: GOOD })
  let n = 0
  const attempt = async (email: string, password: string) => {
    const started = process.hrtime.bigint()
    const r = await call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email, password }, headers: { 'x-forwarded-for': `198.51.100.${++n}` } })
    return { r, ms: Number(process.hrtime.bigint() - started) / 1e6 }
  }
  const wrong = await attempt('carol@example.com', 'not-the-password-1')
  const unknown = await attempt('nobody@example.com', 'not-the-password-1')
  t.equal(wrong.r.status, 401)
  t.equal(unknown.r.status, wrong.r.status, 'same status')
  t.equal(unknown.r.text, wrong.r.text, 'same body, byte for byte')
  const headerNames = (a: typeof wrong) => [...a.r.headers.keys()].filter((k) => k !== 'date' && k !== 'x-request-id').sort()
  t.same(headerNames(unknown), headerNames(wrong), 'same headers')
  t.equal(wrong.r.json().code, 'INVALID_CREDENTIALS')

  // Same cost: both paths run one argon2id verification. Compare medians of a few rounds on
  // separate accounts (to stay under the per-account throttle); a missing dummy verification
  // would make unknown emails several times faster.
  const wrongMs: number[] = []
  const unknownMs: number[] = []
  for (let i = 0; i < 4; i++) {
    const u = await stack.createUser({ password: GOOD })
    wrongMs.push((await attempt(u.email, 'not-the-password-2')).ms)
    unknownMs.push((await attempt(`ghost${i}@example.com`, 'not-the-password-2')).ms)
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const ratio = median(unknownMs) / median(wrongMs)
  t.ok(ratio > 0.4 && ratio < 3, `unknown/wrong latency ratio ${ratio.toFixed(2)} (${median(unknownMs).toFixed(1)} vs ${median(wrongMs).toFixed(1)} ms)`)
})

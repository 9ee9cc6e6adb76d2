import { test } from 'tap'
import { startTestStack } from '@palisade/testkit'
import { call } from './helpers.js'

test('brute force: 5 failures in 5 minutes per account or per IP → 429 with Retry-After, audited', async (t) => {
  const stack = await startTestStack(t, { auth: { AUTH_TRUSTED_PROXIES: '127.0.0.1' } })
  const alice = await stack.createUser()
  const login = (email: string, password: string, ip: string) =>
    call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email, password }, headers: { 'x-forwarded-for': ip } })

  // Per account: an attacker rotating addresses.
  for (let i = 1; i <= 5; i++) t.equal((await login(alice.email, `guess-number-${i}`, `198.51.100.${i}`)).status, 401, `guess ${i}`)
  const locked = await login(alice.email, `guess-number-6`, '198.51.100.6')
  t.equal(locked.status, 429)
  t.equal(locked.json().code, 'TOO_MANY_REQUESTS')
  const retry = Number(locked.headers.get('retry-after'))
  t.ok(retry > 0 && retry <= 300, `Retry-After ${retry}`)
  const evenRight = await login(alice.email, alice.password, '198.51.100.7')
  t.equal(evenRight.status, 429, 'the right password does not get through while locked')
  t.equal((await login(alice.email.toUpperCase(), alice.password, '198.51.100.8')).status, 429, 'nor a different spelling of the address')

  // Unknown accounts are throttled the same way (no enumeration through the throttle).
  for (let i = 1; i <= 5; i++) await login('ghost@example.com', `guess-number-${i}`, `203.0.113.${i}`)
  const ghost = await login('ghost@example.com', 'x', '203.0.113.9')
  t.equal(ghost.status, 429)
  t.equal(ghost.text.replace(/"retry.*?"/g, ''), locked.text.replace(/"retry.*?"/g, ''), 'same body as for a real account')

  // Per IP: one address spraying many accounts.
  const users = await Promise.all([1, 2, 3].map(() => stack.createUser()))
  const ip = '192.0.2.50'
  for (let i = 0; i < 5; i++) t.equal((await login(`spray${i}@example.com`, 'Summer2024!x', ip)).status, 401)
  const sprayed = await login(users[0]!.email, users[0]!.password, ip)
  t.equal(sprayed.status, 429, 'the sixth attempt from that address is refused, even for another account with the right password')
  t.equal((await login(users[0]!.email, users[0]!.password, '192.0.2.51')).status, 200, 'the account itself is fine from elsewhere')

  // A success resets the account counter, but not the address counter.
  const bob = users[1]!
  for (let i = 0; i < 4; i++) await login(bob.email, `wrong-${i}`, `192.0.2.${100 + i}`)
  t.equal((await login(bob.email, bob.password, '192.0.2.110')).status, 200)
  for (let i = 0; i < 4; i++) t.equal((await login(bob.email, `wrong-again-${i}`, `192.0.2.${120 + i}`)).status, 401, 'counter restarted after success')

  // A burst of parallel guesses cannot slip past the count.
  const carol = users[2]!
  const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => login(carol.email, `parallel-${i}`, `198.18.0.${i}`)))
  const statuses = burst.map((r) => r.status)
  t.equal(statuses.filter((s) => s === 401).length, 5, `exactly 5 guesses checked (${statuses.join(',')})`)
  t.equal(statuses.filter((s) => s === 429).length, 7)

  const throttled = await stack.auth.pg.query("SELECT count(*)::int AS n FROM auth.audit_log WHERE event = 'login.throttled'")
  t.ok(throttled.rows[0].n >= 5, 'throttled attempts are in the audit log')

  // Without a trusted proxy, X-Forwarded-For is the client's own claim and ignored.
  const direct = await startTestStack(t)
  const dave = await direct.createUser()
  for (let i = 0; i < 5; i++) {
    await call(`${direct.authUrl}/auth/login`, { method: 'POST', json: { email: `p${i}@example.com`, password: 'whatever-pass' }, headers: { 'x-forwarded-for': `10.9.9.${i}` } })
  }
  const spoofed = await call(`${direct.authUrl}/auth/login`, { method: 'POST', json: { email: dave.email, password: dave.password }, headers: { 'x-forwarded-for': '10.9.9.99' } })
  t.equal(spoofed.status, 429, 'rotating a spoofed X-Forwarded-For does not reset the per-IP count')
})

test('per-IP rate limit on the public auth endpoints', async (t) => {
  const stack = await startTestStack(t, { auth: { AUTH_RATE_LIMIT_PER_MINUTE: 3 } })
  const statuses: number[] = []
  for (let i = 0; i < 5; i++) {
    const r = await call(`${stack.authUrl}/auth/refresh`, { method: 'POST', json: { refreshToken: 'A'.repeat(43) } })
    statuses.push(r.status)
    if (r.status === 429) {
      t.ok(Number(r.headers.get('retry-after')) > 0, 'Retry-After')
      t.equal(r.json().code, 'TOO_MANY_REQUESTS')
    }
  }
  t.same(statuses, [401, 401, 401, 429, 429])
  // Every request of every user reaches /auth/verify from the one proxy address: no per-IP limit
  // there (the platform default is 600 per minute).
  let limited = 0
  for (let i = 0; i < 650; i++) {
    const r = await stack.auth.inject({ url: '/auth/verify', headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/login' } })
    if (r.statusCode !== 200) limited++
  }
  t.equal(limited, 0, '/auth/verify is not rate limited per IP')
})

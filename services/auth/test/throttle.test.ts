import { test } from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { call, postFrom, startTestStack } from './helpers.js'

// Every request below travels over its own socket from a chosen loopback address: to auth each
// address is another machine (directly, or behind the "edge" at a trusted address).

test('one address guessing at made-up accounts locks out nobody else, not even itself', async (t) => {
  const stack = await startTestStack(t)
  const [alice, bob] = await Promise.all([stack.createUser(), stack.createUser()])
  const login = (from: string, email: string, password: string) => postFrom(from, `${stack.authUrl}/auth/login`, { email, password })

  const guesses = []
  for (let i = 0; i < 8; i++) guesses.push((await login('127.0.0.2', `made-up-${i}@example.com`, 'Summer2024!x')).status)
  t.same(guesses, Array(8).fill(401), 'eight failures on eight accounts: each account has one, the address is far from its budget')
  t.equal((await login('127.0.0.3', bob.email, bob.password)).status, 200, 'another address signs in')
  t.equal((await login('127.0.0.2', alice.email, alice.password)).status, 200, 'and so does someone at the guessing address itself (a shared NAT)')
})

test('an account under attack answers 429 with Retry-After, from every address (what an attacker can lock)', async (t) => {
  const stack = await startTestStack(t)
  const [carol, dave] = await Promise.all([stack.createUser(), stack.createUser()])
  const login = (from: string, email: string, password: string) => postFrom(from, `${stack.authUrl}/auth/login`, { email, password })

  for (let i = 0; i < 5; i++) t.equal((await login(`127.0.0.${10 + i}`, carol.email, `guess-number-${i}`)).status, 401, `guess ${i + 1}, from its own address`)
  const locked = await login('127.0.0.15', carol.email, 'guess-number-6')
  t.equal(locked.status, 429, 'the sixth guess, from yet another address')
  t.equal(locked.json().code, 'TOO_MANY_REQUESTS')
  const retry = Number(locked.headers.get('retry-after'))
  t.ok(retry > 0 && retry <= 300, `Retry-After ${retry}`)
  t.equal((await login('127.0.0.16', carol.email, carol.password)).status, 429, 'the right password does not get through while locked')
  t.equal((await login('127.0.0.16', carol.email.toUpperCase(), carol.password)).status, 429, 'nor a different spelling of the address')
  t.equal((await login('127.0.0.10', dave.email, dave.password)).status, 200, 'the attacking addresses can still sign in to other accounts')

  // Unknown accounts are throttled the same way (no enumeration through the throttle).
  for (let i = 0; i < 5; i++) await login(`127.0.0.${20 + i}`, 'ghost@example.com', `guess-number-${i}`)
  const ghost = await login('127.0.0.25', 'ghost@example.com', 'x')
  t.equal(ghost.status, 429)
  t.equal(ghost.text.replace(/"retry.*?"/g, ''), locked.text.replace(/"retry.*?"/g, ''), 'same body as for a real account')

  const throttled = await stack.auth.pg.query("SELECT details FROM auth.audit_log WHERE event = 'login.throttled'")
  t.ok(throttled.rows.length >= 4, 'throttled attempts are in the audit log')
  t.ok(
    throttled.rows.every((r: { details: { reason: string } }) => r.details.reason === 'account'),
    'with the rule that refused them'
  )
})

test('the per-address budget throttles that address only', async (t) => {
  const stack = await startTestStack(t, { auth: { AUTH_LOGIN_FAILURES_PER_ADDRESS: 5 } })
  const erin = await stack.createUser()
  const login = (from: string, email: string, password: string) => postFrom(from, `${stack.authUrl}/auth/login`, { email, password })
  for (let i = 0; i < 5; i++) t.equal((await login('127.0.0.30', `spray${i}@example.com`, 'Summer2024!x')).status, 401)
  const refused = await login('127.0.0.30', erin.email, erin.password)
  t.equal(refused.status, 429, 'the spraying address is refused, even for another account with the right password')
  t.ok(Number(refused.headers.get('retry-after')) > 0, 'Retry-After')
  t.equal((await login('127.0.0.31', erin.email, erin.password)).status, 200, 'the account itself is fine from elsewhere')
  t.equal((await login('127.0.0.31', 'spray0@example.com', 'another-try-1')).status, 401, 'and so are the sprayed accounts')
})

test('a success resets the account counter', async (t) => {
  const stack = await startTestStack(t)
  const bob = await stack.createUser()
  const login = (from: string, password: string) => postFrom(from, `${stack.authUrl}/auth/login`, { email: bob.email, password })
  for (let i = 0; i < 4; i++) await login(`127.0.0.${40 + i}`, `wrong-${i}`)
  t.equal((await login('127.0.0.50', bob.password)).status, 200)
  for (let i = 0; i < 4; i++) t.equal((await login(`127.0.0.${60 + i}`, `wrong-again-${i}`)).status, 401, 'counter restarted after success')
})

test('parallel guesses at one account: at most 5 are ever checked', async (t) => {
  const stack = await startTestStack(t)
  const carol = await stack.createUser()
  const burst = await Promise.all(
    Array.from({ length: 12 }, (_, i) => postFrom(`127.0.0.${70 + i}`, `${stack.authUrl}/auth/login`, { email: carol.email, password: `parallel-${i}` }))
  )
  const statuses = burst.map((r) => r.status)
  t.equal(statuses.filter((s) => s === 401).length, 5, `exactly 5 guesses checked (${statuses.join(',')})`)
  t.equal(statuses.filter((s) => s === 429).length, 7)
})

test('people signing in at the same moment from one address are never refused', async (t) => {
  const stack = await startTestStack(t)
  const users = []
  for (let i = 0; i < 20; i++) users.push(await stack.createUser())
  // 20 correct logins from one address (an office behind one NAT, or the edge without a trusted proxy), 16 at a time.
  const statuses: number[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < users.length) {
        const u = users[next++]!
        statuses.push((await postFrom('127.0.0.90', `${stack.authUrl}/auth/login`, { email: u.email, password: u.password })).status)
      }
    })
  )
  t.same(statuses, Array(20).fill(200), 'all 20 signed in, none got 429')
  const same = await Promise.all(
    Array.from({ length: 4 }, () => postFrom('127.0.0.91', `${stack.authUrl}/auth/login`, { email: users[0]!.email, password: users[0]!.password }))
  )
  t.same(
    same.map((r) => r.status),
    [200, 200, 200, 200],
    'one person signing in on four devices at once too'
  )
})

test('behind a trusted proxy (CIDR): the rightmost X-Forwarded-For is the client; spoofed entries and other peers are not', async (t) => {
  // 127.0.0.96/29 is "the edge" (127.0.0.96–103); it connects from one address for all clients.
  const stack = await startTestStack(t, { auth: { TRUSTED_PROXIES: '127.0.0.96/29', AUTH_LOGIN_FAILURES_PER_ADDRESS: 5 } })
  const frank = await stack.createUser()
  const login = (from: string, email: string, password: string, xff?: string) =>
    postFrom(from, `${stack.authUrl}/auth/login`, { email, password }, xff ? { 'x-forwarded-for': xff } : {})

  // The client 203.0.113.50 prepends a different fake address each time; the edge appends the real one.
  for (let i = 0; i < 5; i++) t.equal((await login('127.0.0.97', `nobody${i}@example.com`, 'Summer2024!x', `198.51.100.${i}, 203.0.113.50`)).status, 401)
  t.equal(
    (await login('127.0.0.97', frank.email, frank.password, '198.51.100.99, 203.0.113.50')).status,
    429,
    'rotating the left-hand entries does not reset the address budget'
  )
  t.equal((await login('127.0.0.97', frank.email, frank.password, '203.0.113.51')).status, 200, 'another client behind the same edge signs in')
  t.equal((await login('127.0.0.103', frank.email, frank.password, '203.0.113.52')).status, 200, 'through another proxy address of the CIDR too')

  // A peer outside the CIDR cannot pick its address by sending X-Forwarded-For.
  for (let i = 0; i < 5; i++) await login('127.0.0.104', `nobody${i}@example.com`, 'Summer2024!x', `10.9.9.${i}`)
  t.equal((await login('127.0.0.104', frank.email, frank.password, '10.9.9.99')).status, 429, 'its own address is counted, whatever it claims')
})

test('the per-address request rate limit (refresh) counts each client behind the edge separately', async (t) => {
  const stack = await startTestStack(t, { auth: { TRUSTED_PROXIES: '127.0.0.96/29', AUTH_RATE_LIMIT_PER_MINUTE: 3 } })
  const refresh = (xff: string) => postFrom('127.0.0.97', `${stack.authUrl}/auth/refresh`, { refreshToken: 'A'.repeat(43) }, { 'x-forwarded-for': xff })
  const statuses = []
  for (let i = 0; i < 5; i++) statuses.push((await refresh('203.0.113.60')).status)
  t.same(statuses, [401, 401, 401, 429, 429], 'one client spamming refresh is limited')
  t.equal((await refresh('203.0.113.61')).status, 401, 'another client behind the same edge is not')
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

test('auth in production refuses to start without a trusted proxy', async (t) => {
  const dir = fileURLToPath(new URL('..', import.meta.url))
  const child = spawn(process.execPath, ['--conditions=development', '--import=tsx', 'src/server.ts'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://auth@127.0.0.1:1/none',
      NATS_URL: 'nats://127.0.0.1:1',
      LOG_LEVEL: 'silent'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 1, 'exits 1')
  t.match(stderr, /^auth: configuration error: TRUSTED_PROXIES is empty/m, `a clear message (${stderr.trim().slice(0, 200)})`)
})

import t0, { test } from 'tap'
import { call, setCookies, startTestStack } from './helpers.js'
import { asUser, cookieValue, enrolTotp, mfaStep, passwordStep, totp } from './mfa-helpers.js'

// One stack for the whole file: every test works with its own users.
const stack = await startTestStack(t0, { auth: { AUTH_REQUIRE_MFA: 'admins' } })
// The installation's first account becomes its admin (and would have to enrol): take it here, so
// that every test below works with members of its own.
await call(`${stack.authUrl}/auth/register`, {
  method: 'POST',
  json: { email: 'first@example.com', password: 'the first account password', displayName: 'First' }
})
const sessionsOf = async (userId: string) =>
  Number((await stack.auth.pg.query('SELECT count(*) FROM auth.sessions WHERE user_id = $1', [userId])).rows[0].count)

test('TOTP enrolment: QR URI, confirmation, secret sealed at rest', async (t) => {
  const u = await stack.createUser()
  const started = await asUser(stack, u, 'POST', '/auth/mfa/totp', {})
  t.equal(started.status, 200)
  const { secret, uri } = started.json()
  t.match(secret, /^[A-Z2-7]{16,}$/, 'base32 secret')
  t.match(uri, /^otpauth:\/\/totp\/Palisade:.+\?.*secret=/, 'otpauth URI for the QR code')
  t.equal((await asUser(stack, u, 'GET', '/auth/mfa')).json().totp.enabled, false, 'not enabled before a code proves it')
  const wrong = await asUser(stack, u, 'POST', '/auth/mfa/totp/confirm', { code: '000000' === (await totp(secret)) ? '111111' : '000000' })
  t.equal(wrong.status, 400)
  t.equal(wrong.json().code, 'INVALID_CODE')
  const ok = await asUser(stack, u, 'POST', '/auth/mfa/totp/confirm', { code: await totp(secret) })
  t.equal(ok.status, 200)
  t.equal(ok.json().recoveryCodes.length, 10, 'ten recovery codes with the first factor')
  t.match(ok.json().recoveryCodes[0], /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/)
  const factors = (await asUser(stack, u, 'GET', '/auth/mfa')).json()
  t.match(factors, { totp: { enabled: true }, passkeys: [], recoveryCodesLeft: 10, required: false })

  const row = (await stack.auth.pg.query('SELECT secret_box FROM auth.totp_factors WHERE user_id = $1', [u.userId])).rows[0]
  t.notOk(row.secret_box.includes(secret), 'the secret is not stored in the clear')
  t.match(row.secret_box, /^v1\./, 'sealed (AES-256-GCM box)')
  const codes = (await stack.auth.pg.query('SELECT code_hash FROM auth.recovery_codes WHERE user_id = $1', [u.userId])).rows
  t.equal(codes.length, 10)
  t.notOk(
    codes.some((c) => ok.json().recoveryCodes.some((rc: string) => c.code_hash.includes(rc.replace(/-/g, '')))),
    'recovery codes stored hashed'
  )
  const again = await asUser(stack, u, 'POST', '/auth/mfa/totp', {})
  t.equal(again.status, 409, 'a second enrolment does not silently replace the confirmed factor')
})

test('login with TOTP: a ticket, never a session, until the code', async (t) => {
  const u = await stack.createUser()
  const { secret } = await enrolTotp(stack, u)
  const before = await sessionsOf(u.userId)

  const { res, ticket } = await passwordStep(stack, u)
  t.equal(res.status, 200)
  t.same(res.json(), { mfaRequired: true, enrolmentRequired: false, methods: ['totp', 'recovery'], expiresIn: 300 })
  const cookies = setCookies(res)
  t.equal(cookies.length, 1, 'only the ticket cookie')
  t.notOk(
    cookies.some((c) => c.startsWith('palisade_access=') || c.startsWith('palisade_refresh=')),
    'no session cookie'
  )
  const attrs = cookies[0]!.split('; ')
  for (const a of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/auth/login']) t.ok(attrs.includes(a), `ticket cookie ${a}`)
  t.ok(Number(attrs.find((a) => a.startsWith('Max-Age='))!.slice(8)) <= 300, 'ticket lives at most 5 minutes')
  t.equal(await sessionsOf(u.userId), before, 'the password alone made no session')
  t.match(ticket, /^[A-Za-z0-9_-]{43}$/)

  const noOrigin = await call(`${stack.authUrl}/auth/login/mfa`, { method: 'POST', json: { code: '123456' }, headers: { cookie: `palisade_mfa=${ticket}` } })
  t.equal(noOrigin.status, 403, 'the ticket is a cookie credential: Origin required')
  const noTicket = await mfaStep(stack, undefined, { code: '123456' })
  t.equal(noTicket.status, 401)
  t.equal(noTicket.json().code, 'MFA_TICKET_INVALID')
  const both = await mfaStep(stack, ticket, { code: '123456', recoveryCode: 'AAAA-BBBB-CCCC' })
  t.equal(both.status, 400, 'exactly one proof')

  const code = await totp(secret)
  const done = await mfaStep(stack, ticket, { code })
  t.equal(done.status, 200)
  t.match(done.json(), { user: { id: u.userId }, tokenType: 'Bearer' })
  t.ok(cookieValue(done, 'palisade_access') && cookieValue(done, 'palisade_refresh'), 'session cookies now')
  t.match(setCookies(done).find((c) => c.startsWith('palisade_mfa='))!, /Max-Age=0|Expires=Thu, 01 Jan 1970/, 'ticket cookie cleared')
  t.equal(await sessionsOf(u.userId), before + 1)

  // Replaying the spent ticket, even with a fresh valid code.
  const replayTicket = await mfaStep(stack, ticket, { code: await totp(secret, 1) })
  t.equal(replayTicket.status, 401, 'a ticket completes one login only')
  t.equal(replayTicket.json().code, 'MFA_TICKET_INVALID')

  // Replaying the code on a new attempt, inside its window.
  const second = await passwordStep(stack, u)
  const replayCode = await mfaStep(stack, second.ticket, { code })
  t.equal(replayCode.status, 401, 'a code is accepted once')
  t.equal(replayCode.json().code, 'INVALID_CODE')
  t.equal((await mfaStep(stack, second.ticket, { code: await totp(secret, 1) })).status, 200, 'the next code works')
  t.equal(await sessionsOf(u.userId), before + 2)
})

test('a ticket proves only its own account', async (t) => {
  const alice = await stack.createUser()
  const mallory = await stack.createUser()
  const a = await enrolTotp(stack, alice)
  await enrolTotp(stack, mallory)
  const aliceSessions = await sessionsOf(alice.userId)
  const { ticket } = await passwordStep(stack, mallory)
  const aliceCode = await totp(a.secret)
  const r = await mfaStep(stack, ticket, { code: aliceCode })
  t.equal(r.status, 401, "Alice's code on Mallory's ticket")
  const r2 = await mfaStep(stack, ticket, { recoveryCode: a.recoveryCodes[0] })
  t.equal(r2.status, 401, "Alice's recovery code on Mallory's ticket")
  t.equal(await sessionsOf(alice.userId), aliceSessions, 'no session for Alice')
  const mine = await passwordStep(stack, alice)
  t.equal((await mfaStep(stack, mine.ticket, { code: aliceCode })).status, 200, "Alice's code was not spent by the attempt")
})

test('TOTP brute force counts toward the account lock', async (t) => {
  const u = await stack.createUser()
  const { secret } = await enrolTotp(stack, u)
  const right = await totp(secret)
  const wrong = (i: number) => String((Number(right) + 1 + i) % 1_000_000).padStart(6, '0')
  // Four wrong codes, then the password again (which must not wipe them), then a fifth.
  const first = await passwordStep(stack, u)
  for (let i = 0; i < 4; i++) t.equal((await mfaStep(stack, first.ticket, { code: wrong(i) })).status, 401)
  const second = await passwordStep(stack, u)
  t.equal(second.res.status, 200, 'the password is still right')
  t.equal((await mfaStep(stack, second.ticket, { code: wrong(4) })).status, 401)
  const locked = await mfaStep(stack, second.ticket, { code: right })
  t.equal(locked.status, 429, 'five wrong codes lock the account, right code or not')
  t.ok(Number(locked.headers.get('retry-after')) > 0)
  t.equal((await passwordStep(stack, u)).res.status, 429, 'the password step is locked too')
  const audit = await stack.auth.pg.query("SELECT count(*) FROM auth.audit_log WHERE user_id = $1 AND event = 'mfa.failed'", [u.userId])
  t.equal(Number(audit.rows[0].count), 5, 'every wrong code audited')
})

test('recovery codes: single use, only with a ticket, regenerable with step-up', async (t) => {
  const u = await stack.createUser()
  const { recoveryCodes } = await enrolTotp(stack, u)
  const { ticket } = await passwordStep(stack, u)
  const ok = await mfaStep(stack, ticket, { recoveryCode: recoveryCodes[3]!.toLowerCase() })
  t.equal(ok.status, 200, 'a recovery code signs in (case does not matter)')
  const again = await passwordStep(stack, u)
  t.equal((await mfaStep(stack, again.ticket, { recoveryCode: recoveryCodes[3] })).status, 401, 'a spent recovery code is refused')
  t.equal((await asUser(stack, u, 'GET', '/auth/mfa')).json().recoveryCodesLeft, 9)

  const fresh = await asUser(stack, u, 'POST', '/auth/mfa/recovery-codes', {})
  t.equal(fresh.status, 200)
  t.equal(fresh.json().recoveryCodes.length, 10)
  const third = await passwordStep(stack, u)
  t.equal((await mfaStep(stack, third.ticket, { recoveryCode: recoveryCodes[0] })).status, 401, 'old codes die with regeneration')
  t.equal((await mfaStep(stack, third.ticket, { recoveryCode: fresh.json().recoveryCodes[0] })).status, 200)
})

test('an expired ticket is refused', async (t) => {
  const u = await stack.createUser()
  const { secret } = await enrolTotp(stack, u)
  const { ticket } = await passwordStep(stack, u)
  await stack.auth.pg.query("UPDATE auth.mfa_tickets SET expires_at = now() - interval '1 second' WHERE user_id = $1", [u.userId])
  const r = await mfaStep(stack, ticket, { code: await totp(secret) })
  t.equal(r.status, 401)
  t.equal(r.json().code, 'MFA_TICKET_INVALID')
})

test('removing the only factor drops the recovery codes; the login is plain again', async (t) => {
  const u = await stack.createUser()
  await enrolTotp(stack, u)
  t.equal((await asUser(stack, u, 'DELETE', '/auth/mfa/totp')).status, 204)
  t.match((await asUser(stack, u, 'GET', '/auth/mfa')).json(), { totp: { enabled: false }, recoveryCodesLeft: 0 })
  const { res, ticket } = await passwordStep(stack, u)
  t.equal(res.status, 200)
  t.ok(res.json().sessionId, 'a session straight away')
  t.notOk(ticket)
})

test('AUTH_REQUIRE_MFA: admins must enrol before they get a session', async (t) => {
  const admin = await stack.createUser()
  await stack.auth.pg.query("UPDATE auth.users SET roles = '{admin}' WHERE id = $1", [admin.userId])
  const before = await sessionsOf(admin.userId)
  const { res, ticket } = await passwordStep(stack, admin)
  t.same(res.json(), { mfaRequired: true, enrolmentRequired: true, methods: ['totp', 'passkey'], expiresIn: 300 })
  t.equal((await mfaStep(stack, ticket, { code: '123456' })).status, 401, 'an enrolment ticket is no second factor')
  const started = await mfaStep(stack, ticket, {}, '/auth/login/enrol/totp')
  t.equal(started.status, 200)
  t.equal(await sessionsOf(admin.userId), before, 'still no session while enrolling')
  const bad = await mfaStep(stack, ticket, { code: '000000' === (await totp(started.json().secret)) ? '111111' : '000000' }, '/auth/login/enrol/totp/confirm')
  t.equal(bad.status, 400)
  const done = await mfaStep(stack, ticket, { code: await totp(started.json().secret) }, '/auth/login/enrol/totp/confirm')
  t.equal(done.status, 200)
  t.equal(done.json().recoveryCodes.length, 10)
  t.ok(cookieValue(done, 'palisade_access'), 'signed in once enrolled')
  t.equal(await sessionsOf(admin.userId), before + 1)
  t.equal((await mfaStep(stack, ticket, {}, '/auth/login/enrol/totp')).status, 401, 'the enrolment ticket is spent')
  // From now on the admin signs in with the factor, and cannot remove the last one.
  const next = await passwordStep(stack, admin)
  t.same(next.res.json().methods, ['totp', 'recovery'])
  const session = { accessToken: done.json().accessToken }
  const removal = await asUser(stack, session, 'DELETE', '/auth/mfa/totp')
  t.equal(removal.status, 409, 'the policy keeps a factor on the account')
  t.equal((await asUser(stack, session, 'GET', '/auth/mfa')).json().required, true)

  // A member is not concerned by the default policy.
  const member = await stack.createUser()
  t.ok((await passwordStep(stack, member)).res.json().sessionId)
})

test('second-step inputs are validated before anything is checked', async (t) => {
  const u = await stack.createUser()
  await enrolTotp(stack, u)
  const { ticket } = await passwordStep(stack, u)
  const cases: [string, unknown, string?][] = [
    ['a 5-digit code', { code: '12345' }],
    ['letters in a code', { code: '12a456' }],
    ['no proof at all', {}],
    ['an unknown field', { code: '123456', userId: u.userId }],
    [
      'a passkey with extra response fields',
      {
        passkey: {
          id: 'a',
          rawId: 'a',
          type: 'public-key',
          response: { clientDataJSON: 'a', authenticatorData: 'a', signature: 'a', x: 1 },
          clientExtensionResults: {}
        }
      }
    ],
    ['input to a step that takes none', { userId: u.userId }, '/auth/login/mfa/passkey-options']
  ]
  for (const [what, body, path] of cases) {
    const r = await mfaStep(stack, ticket, body, path)
    t.equal(r.status, 400, what)
    t.equal(r.json().code, 'VALIDATION_FAILED', what)
  }
  const failures = await stack.auth.pg.query('SELECT count(*) FROM auth.login_failures WHERE account = $1', [u.email])
  t.equal(Number(failures.rows[0].count), 0, 'malformed input is no guess')
})

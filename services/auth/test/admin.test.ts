import t0, { test } from 'tap'
import { TestkitError, type TestUser } from '@palisade/testkit'
import { IDENTITY_HEADERS } from '@palisade/contracts'
import { generateSigningKey, signAssertion } from '@palisade/platform'
import { call, decodeJwt, forwarded, ORIGIN, revocationEvents, signerOf, startTestStack, verifyAt, waitFor } from './helpers.js'

// One stack: its first user is the admin; every test makes its own other users.
const stack = await startTestStack(t0)
const admin = await stack.createUser({ displayName: 'Root' })

/** As the edge would relay it; a session the edge already refuses answers what /verify said. */
async function asUser(user: Pick<TestUser, 'accessToken'>, method: string, url: string, json?: unknown) {
  let headers
  try {
    headers = await stack.identityHeaders(user, { method, uri: url })
  } catch (err) {
    if (err instanceof TestkitError && err.status) return { statusCode: err.status, headers: {}, json: () => JSON.parse(err.body ?? '{}') }
    throw err
  }
  return stack.auth.inject({ method: method as 'GET', url, headers, ...(json !== undefined ? { payload: json as object } : {}) })
}

async function login(email: string, password: string) {
  return call(`${stack.authUrl}/auth/login`, { method: 'POST', headers: { origin: ORIGIN }, json: { email, password } })
}

async function signIn(user: TestUser): Promise<TestUser> {
  const body = (await login(user.email, user.password)).json()
  return { ...user, sessionId: body.sessionId, accessToken: body.accessToken, cookie: `palisade_access=${body.accessToken}` }
}

const alive = async (u: TestUser) => (await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { cookie: u.cookie }))).status === 200

test('a member gets 403 on every admin route; nobody signed out gets in', async (t) => {
  const bob = await stack.createUser()
  const id = admin.userId
  const routes: [string, string, unknown?][] = [
    ['GET', '/auth/admin/users'],
    ['GET', `/auth/admin/users/${id}`],
    ['POST', `/auth/admin/users/${id}/disable`],
    ['POST', `/auth/admin/users/${id}/enable`],
    ['POST', `/auth/admin/users/${id}/role`, { role: 'member' }],
    ['POST', `/auth/admin/users/${id}/reset-factors`],
    ['POST', `/auth/admin/users/${id}/password-reset`],
    ['POST', '/auth/admin/invites', {}],
    ['GET', '/auth/admin/invites'],
    ['DELETE', `/auth/admin/invites/${id}`],
    ['GET', '/auth/admin/audit']
  ]
  for (const [method, url, body] of routes) {
    const r = await asUser(bob, method, url, body)
    t.equal(r.statusCode, 403, `member: ${method} ${url}`)
    t.equal(r.json().code, 'FORBIDDEN')
    const anon = await stack.auth.inject({ method: method as 'GET', url })
    t.equal(anon.statusCode, 401, `anonymous: ${method} ${url}`)
  }
  t.equal((await stack.auth.pg.query('SELECT roles FROM auth.users WHERE id = $1', [id])).rows[0].roles[0], 'admin', 'nothing changed')
})

test('roles come only from auth: a forged or sibling-signed assertion never makes an admin', async (t) => {
  const bob = await stack.createUser()
  const real = await stack.identityHeaders(bob, { uri: '/auth/admin/users' })
  t.same(decodeJwt(real[IDENTITY_HEADERS.assertion]).payload.roles, ['member'], 'auth vouches for member')
  const forChat = await stack.identityHeaders(bob, { uri: '/api/chat/x' })
  t.same(decodeJwt(forChat[IDENTITY_HEADERS.assertion]).payload.roles, ['member'], 'every service learns the role from the assertion')

  const mint = (key = generateSigningKey(), over = {}) =>
    signAssertion(key, { issuer: 'palisade-auth', audience: 'auth', userId: bob.userId, sessionId: bob.sessionId, roles: ['admin'], ...over }).token
  const headers = (assertion: string) => ({ [IDENTITY_HEADERS.user]: bob.userId, [IDENTITY_HEADERS.assertion]: assertion })
  const sibling = await stack.auth.inject({ url: '/auth/admin/users', headers: headers(mint()) })
  t.equal(sibling.statusCode, 401, 'an assertion claiming admin, signed by a sibling’s key: refused')
  // A member's genuine assertion with `roles` edited keeps the signature of the original claims.
  const [h, p, s] = real[IDENTITY_HEADERS.assertion].split('.')
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString())
  const edited = `${h}.${Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url')}.${s}`
  t.equal((await stack.auth.inject({ url: '/auth/admin/users', headers: headers(edited) })).statusCode, 401, 'an edited assertion: refused')
  const forChatAsAuth = { ...headers(forChat[IDENTITY_HEADERS.assertion]) }
  t.equal((await stack.auth.inject({ url: '/auth/admin/users', headers: forChatAsAuth })).statusCode, 401, 'an assertion for another service: refused')
  // Even auth's own key claiming admin for a member is not enough: the database must agree.
  const ownKey = await stack.auth.inject({ url: '/auth/admin/users', headers: headers(mint(signerOf(stack))) })
  t.equal(ownKey.statusCode, 403, 'a validly signed but wrong role is refused by the database check')
})

test('disable: every session revoked and announced, login refused clearly; enable lets them back', async (t) => {
  const { events } = await revocationEvents(stack, t)
  const carol = await stack.createUser()
  const carol2 = await signIn(carol)
  t.ok((await alive(carol)) && (await alive(carol2)), 'two live sessions')
  const r = await asUser(admin, 'POST', `/auth/admin/users/${carol.userId}/disable`)
  t.equal(r.statusCode, 204)
  t.ok(await waitFor(() => events.some((e) => e.userId === carol.userId)), 'the revocation is published (the gateway closes sockets on it)')
  const ev = events.find((e) => e.userId === carol.userId)!
  t.equal(ev.reason, 'account-disabled')
  t.same(ev.sessionIds.sort(), [carol.sessionId, carol2.sessionId].sort(), 'both sessions')
  t.notOk(await alive(carol), 'the access token no longer passes /verify')
  t.notOk(await alive(carol2))
  const refused = await login(carol.email, carol.password)
  t.equal(refused.status, 403, 'login refused')
  t.equal(refused.json().code, 'ACCOUNT_DISABLED')
  t.match(refused.json().detail, /disabled by an administrator/)
  t.equal((await login(carol.email, 'a wrong password, long')).status, 401, 'a wrong password still says only that')
  const refresh = await call(`${stack.authUrl}/auth/refresh`, { method: 'POST', json: { refreshToken: carol.refreshToken } })
  t.equal(refresh.status, 401, 'refresh refused')
  t.equal((await stack.auth.pg.query('SELECT count(*)::int AS n FROM auth.sessions WHERE user_id = $1 AND revoked_at IS NULL', [carol.userId])).rows[0].n, 0)

  const detail = await asUser(admin, 'GET', `/auth/admin/users/${carol.userId}`)
  t.match(detail.json(), { user: { id: carol.userId, disabled: true }, sessions: [] })
  t.equal((await asUser(admin, 'POST', `/auth/admin/users/${carol.userId}/enable`)).statusCode, 204)
  t.equal((await login(carol.email, carol.password)).status, 200, 'enabled: login works again')
  t.equal((await asUser(admin, 'POST', `/auth/admin/users/00000000-0000-4000-8000-000000000000/disable`)).statusCode, 404, 'unknown user: 404')
})

test('never the last admin: disabling or demoting it is refused, also when two admins race', async (t) => {
  const self = await asUser(admin, 'POST', `/auth/admin/users/${admin.userId}/disable`)
  t.equal(self.statusCode, 409, 'the only admin cannot disable itself')
  t.equal(self.json().code, 'LAST_ADMIN')
  const demote = await asUser(admin, 'POST', `/auth/admin/users/${admin.userId}/role`, { role: 'member' })
  t.equal(demote.statusCode, 409, 'nor demote itself')

  const dave = await stack.createUser()
  t.equal((await asUser(admin, 'POST', `/auth/admin/users/${dave.userId}/role`, { role: 'admin' })).statusCode, 204)
  t.notOk(await alive(dave), 'a role change ends the sessions (no token outlives its roles)')
  const daveAdmin = await signIn(dave)
  t.same(decodeJwt(daveAdmin.accessToken).payload.roles, ['admin'])
  // Both admins demote each other at the same instant: one wins, one admin stays.
  const [a, b] = await Promise.all([
    asUser(admin, 'POST', `/auth/admin/users/${dave.userId}/role`, { role: 'member' }),
    asUser(daveAdmin, 'POST', `/auth/admin/users/${admin.userId}/role`, { role: 'member' })
  ])
  // The loser is refused by the last-admin rule (409), or, arriving a moment later, finds its own
  // session already ended by the winner's demotion (401) or its admin role gone (403).
  t.equal([a, b].filter((x) => x.statusCode === 204).length, 1, 'exactly one demotion went through')
  t.ok(
    [a, b].every((x) => [204, 401, 403, 409].includes(x.statusCode)),
    `the other is refused (${a.statusCode}, ${b.statusCode})`
  )
  const left = await stack.auth.pg.query("SELECT id FROM auth.users WHERE roles = '{admin}' AND disabled_at IS NULL")
  t.equal(left.rowCount, 1, 'one admin left')
  // Make the file's admin the only admin again if it was the one demoted (the next steps count on it).
  if (left.rows[0].id !== admin.userId) {
    await stack.auth.pg.query("UPDATE auth.users SET roles = CASE WHEN id = $1 THEN '{admin}'::text[] ELSE '{member}'::text[] END WHERE id IN ($1, $2)", [
      admin.userId,
      dave.userId
    ])
    Object.assign(admin, await signIn(admin))
  }
  // Disabling one of two admins races the same way.
  const erin = await stack.createUser()
  await asUser(admin, 'POST', `/auth/admin/users/${erin.userId}/role`, { role: 'admin' })
  const erinAdmin = await signIn(erin)
  const [c, d] = await Promise.all([
    asUser(admin, 'POST', `/auth/admin/users/${erin.userId}/disable`),
    asUser(erinAdmin, 'POST', `/auth/admin/users/${admin.userId}/disable`)
  ])
  t.equal([c, d].filter((x) => x.statusCode === 204).length, 1, 'exactly one disable went through')
  t.ok(
    [c, d].every((x) => [204, 401, 403, 409].includes(x.statusCode)),
    `the other is refused (${c.statusCode}, ${d.statusCode})`
  )
  t.equal((await stack.auth.pg.query("SELECT 1 FROM auth.users WHERE roles = '{admin}' AND disabled_at IS NULL")).rowCount, 1)
  if (d.statusCode === 204) {
    await stack.auth.pg.query('UPDATE auth.users SET disabled_at = NULL WHERE id = $1', [admin.userId])
    Object.assign(admin, await signIn(admin))
  }
})

test('password-reset links: one hour, single use, newest only; the account is signed out', async (t) => {
  const frank = await stack.createUser()
  const issue = async () => {
    const r = await asUser(admin, 'POST', `/auth/admin/users/${frank.userId}/password-reset`)
    t.equal(r.statusCode, 201)
    t.equal(r.headers['cache-control'], 'no-store')
    return r.json() as { token: string; path: string; expiresAt: string }
  }
  const reset = (token: string, newPassword: string) =>
    call(`${stack.authUrl}/auth/password-reset`, { method: 'POST', headers: { origin: ORIGIN }, json: { token, newPassword } })
  const first = await issue()
  t.match(first.path, /^\/login#reset=[A-Za-z0-9_-]{43}$/)
  const hours = (Date.parse(first.expiresAt) - Date.now()) / 3_600_000
  t.ok(hours > 0.9 && hours <= 1, 'valid for one hour')
  const second = await issue()
  t.equal((await reset(first.token, 'a brand new password 1')).status, 400, 'an older link dies when a newer one is issued')
  const weak = await reset(second.token, 'password1234')
  t.equal(weak.status, 400)
  t.equal(weak.json().code, 'WEAK_PASSWORD')
  const ok = await reset(second.token, 'a brand new password 2')
  t.equal(ok.status, 204, 'the weak attempt did not use the link up')
  t.notOk(await alive(frank), 'every session of the account is revoked')
  t.equal((await login(frank.email, frank.password)).status, 401, 'the old password is gone')
  t.equal((await login(frank.email, 'a brand new password 2')).status, 200, 'the new one works')
  const reuse = await reset(second.token, 'a brand new password 3')
  t.equal(reuse.status, 400, 'a used link is refused')
  t.equal(reuse.json().code, 'RESET_LINK_INVALID')
  const third = await issue()
  await stack.auth.pg.query("UPDATE auth.password_resets SET expires_at = now() - interval '1 second' WHERE used_at IS NULL")
  t.equal((await reset(third.token, 'a brand new password 4')).status, 400, 'an expired link is refused')
  t.equal((await reset(third.token, 'x')).status, 400, 'validation first')
  const foreign = await call(`${stack.authUrl}/auth/password-reset`, {
    method: 'POST',
    headers: { origin: 'https://evil.example' },
    json: { token: third.token, newPassword: 'a brand new password 5' }
  })
  t.equal(foreign.status, 403, 'foreign origin')
})

test('finding users, their sessions and factors; reset factors is a hook', async (t) => {
  const gina = await stack.createUser({ displayName: 'Gina Search' })
  const found = await asUser(admin, 'GET', `/auth/admin/users?q=${encodeURIComponent('gina sea')}`)
  t.equal(found.statusCode, 200)
  t.same(
    found.json().users.map((u: { id: string }) => u.id),
    [gina.userId],
    'by display name, case-insensitively'
  )
  const byMail = await asUser(admin, 'GET', `/auth/admin/users?q=${encodeURIComponent(gina.email.slice(0, 10))}`)
  t.ok(
    byMail.json().users.some((u: { id: string }) => u.id === gina.userId),
    'by address'
  )
  t.same((await asUser(admin, 'GET', '/auth/admin/users?q=%25')).json().users, [], '% is a literal, not a wildcard')
  t.equal((await asUser(admin, 'GET', '/auth/admin/users?q=a&extra=1')).statusCode, 400, 'unknown query keys')
  const detail = (await asUser(admin, 'GET', `/auth/admin/users/${gina.userId}`)).json()
  t.equal(detail.sessions.length, 1)
  t.equal(detail.sessions[0].id, gina.sessionId)
  t.same(
    detail.factors.map((f: { kind: string }) => f.kind),
    ['password']
  )
  t.same(detail.identities, [], 'no linked sign-in provider')
  t.notMatch(JSON.stringify(detail), /password_hash|\$argon2/, 'no secret in the detail')
  const none = await asUser(admin, 'POST', `/auth/admin/users/${gina.userId}/reset-factors`)
  t.same(none.json(), { reset: [] }, 'nothing enrolled: nothing to reset')

  // Gina enrols an authenticator app, a passkey and recovery codes (rows as the factor routes write them).
  await stack.auth.pg.query("INSERT INTO auth.totp_factors (user_id, secret_box, confirmed_at) VALUES ($1, 'sealed', now())", [gina.userId])
  await stack.auth.pg.query(
    "INSERT INTO auth.passkeys (id, user_id, credential_id, public_key, transports, name) VALUES (gen_random_uuid(), $1, 'cred-gina', 'key', '{internal}', 'Laptop')",
    [gina.userId]
  )
  for (const h of ['h1', 'h2'])
    await stack.auth.pg.query('INSERT INTO auth.recovery_codes (id, user_id, code_hash) VALUES (gen_random_uuid(), $1, $2)', [gina.userId, h])
  const enrolled = (await asUser(admin, 'GET', `/auth/admin/users/${gina.userId}`)).json()
  t.same(
    enrolled.factors.map((f: { kind: string; name: string }) => [f.kind, f.name]),
    [
      ['password', 'Password'],
      ['totp', 'Authenticator app'],
      ['passkey', 'Passkey “Laptop”'],
      ['recovery-codes', 'Recovery codes (2 unused)']
    ],
    'the admin sees which factors exist, never their secrets'
  )
  t.notMatch(JSON.stringify(enrolled), /sealed|cred-gina|h1/, 'no secret, credential or hash leaves')
  const reset = await asUser(admin, 'POST', `/auth/admin/users/${gina.userId}/reset-factors`)
  t.same(reset.json(), { reset: ['totp', 'passkey', 'recovery-codes'] }, 'every second factor removed')
  const left = await stack.auth.pg.query(
    'SELECT (SELECT count(*) FROM auth.totp_factors WHERE user_id = $1) + (SELECT count(*) FROM auth.passkeys WHERE user_id = $1) + (SELECT count(*) FROM auth.recovery_codes WHERE user_id = $1) AS n',
    [gina.userId]
  )
  t.equal(Number(left.rows[0].n), 0)
  const audit = await stack.auth.pg.query("SELECT user_id, details FROM auth.audit_log WHERE event = 'admin.factors_reset' ORDER BY id DESC LIMIT 1")
  t.same(audit.rows[0], { user_id: admin.userId, details: { target: gina.userId, kinds: 'totp,passkey,recovery-codes' } }, 'audited with actor and target')
})

test('admin actions need a recent authentication (step-up); reading does not', async (t) => {
  const ivy = await stack.createUser()
  const stale = await signIn(admin)
  await stack.auth.pg.query("UPDATE auth.sessions SET authenticated_at = now() - interval '6 minutes' WHERE id = $1", [stale.sessionId])
  t.equal((await asUser(stale, 'GET', '/auth/admin/users')).statusCode, 200, 'reading works')
  const r = await asUser(stale, 'POST', `/auth/admin/users/${ivy.userId}/disable`)
  t.equal(r.statusCode, 401)
  t.equal(r.json().code, 'REAUTH_REQUIRED')
  t.notOk((await stack.auth.pg.query('SELECT disabled_at FROM auth.users WHERE id = $1', [ivy.userId])).rows[0].disabled_at, 'nothing happened')
  const reauth = await asUser(stale, 'POST', '/auth/reauth', { password: admin.password })
  t.equal(reauth.statusCode, 200, 'after re-authenticating with the password')
  t.equal((await asUser(stale, 'POST', `/auth/admin/users/${ivy.userId}/disable`)).statusCode, 204, 'the action goes through')
})

test('the audit log: every admin action with actor and target, filters, chain verdict', async (t) => {
  const hank = await stack.createUser()
  await asUser(admin, 'POST', `/auth/admin/users/${hank.userId}/disable`)
  await asUser(admin, 'POST', `/auth/admin/users/${hank.userId}/enable`)
  const page = await asUser(admin, 'GET', `/auth/admin/audit?userId=${hank.userId}`)
  t.equal(page.statusCode, 200)
  const { entries, chain } = page.json()
  t.same(chain, { ok: true, rows: chain.rows }, 'the chain verifies')
  const events = entries.map((e: { event: string }) => e.event)
  t.same(events.slice(0, 2), ['admin.user_enabled', 'admin.user_disabled'], 'newest first')
  t.ok(events.includes('user.registered'), 'the user’s own entries too')
  const disabled = entries.find((e: { event: string }) => e.event === 'admin.user_disabled')
  t.equal(disabled.userId, admin.userId, 'actor')
  t.equal(disabled.details.target, hank.userId, 'target')
  const onlyDisables = (await asUser(admin, 'GET', '/auth/admin/audit?event=admin.user_disabled')).json().entries
  t.ok(onlyDisables.length > 0 && onlyDisables.every((e: { event: string }) => e.event === 'admin.user_disabled'), 'by event')
  const future = new Date(Date.now() + 3_600_000).toISOString()
  t.same((await asUser(admin, 'GET', `/auth/admin/audit?from=${encodeURIComponent(future)}`)).json().entries, [], 'by time')
  t.equal((await asUser(admin, 'GET', '/auth/admin/audit?event=DROP%20TABLE')).statusCode, 400, 'event names are validated')

  await stack.auth.pg.query('UPDATE auth.audit_log SET details = \'{"target":"someone else"}\' WHERE id = $1', [disabled.id])
  const broken = (await asUser(admin, 'GET', '/auth/admin/audit?limit=1')).json().chain
  t.equal(broken.ok, false, 'an edited row breaks the chain, and the viewer says so')
  t.equal(broken.brokenAt, disabled.id)
})

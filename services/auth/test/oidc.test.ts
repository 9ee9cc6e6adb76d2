import { test } from 'tap'
import type { TestUser } from '@palisade/testkit'
import { AUTH_COOKIES, MFA_TICKET_COOKIE, OIDC_FLOW_COOKIE } from '@palisade/contracts'
import { startTestStack, type TestStack } from './helpers.js'
import {
  CLIENT_ID,
  CLIENT_SECRET,
  cookieHeader,
  oidcCallback,
  oidcSignIn,
  palisadeCookies,
  signAs,
  startTestProvider,
  throughProvider,
  type TestProvider
} from '@palisade/testkit/oidc-provider'

const providersSetting = (p: TestProvider, extra: Record<string, unknown> = {}) =>
  JSON.stringify([{ id: 'test', name: 'Test IdP', issuer: p.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...extra }])

const signIn = (stack: TestStack, p: TestProvider, opts: Parameters<typeof oidcSignIn>[2] = {}) => oidcSignIn(stack.authUrl, p, opts)
const callAt = (stack: TestStack, callback: URL, browser: Map<string, string>, headers?: Record<string, string>) =>
  oidcCallback(stack.authUrl, callback, browser, headers)

const count = async (stack: TestStack, sql: string, params: unknown[] = []) => (await stack.auth.pg.query<{ n: number }>(sql, params)).rows[0]!.n
const liveOf = (stack: TestStack, subject: string) =>
  count(
    stack,
    `SELECT count(*)::int AS n FROM auth.sessions s JOIN auth.oidc_identities i ON i.user_id = s.user_id
      WHERE i.subject = $1 AND s.revoked_at IS NULL`,
    [subject]
  )
const sessionsOf = (stack: TestStack, email: string) =>
  count(stack, 'SELECT count(*)::int AS n FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id WHERE u.email = $1', [email])

async function asUser(stack: TestStack, user: TestUser, method: 'GET' | 'POST' | 'DELETE', url: string) {
  const headers = await stack.identityHeaders(user, { method, uri: url })
  return stack.auth.inject({ method, url, headers })
}

test('OIDC sign-in against a real provider', async (t) => {
  const p = await startTestProvider(t)
  const stack = await startTestStack(t, { auth: { AUTH_OIDC_PROVIDERS: providersSetting(p), AUTH_REGISTRATION: 'open', AUTH_REQUIRE_MFA: 'none' } })
  p.logoutTarget = stack.authUrl
  // The installation's first account (its admin) exists already: OIDC accounts are members.
  const root = await stack.createUser({ email: 'root@example.com' })

  t.test('the provider list is public', async (t) => {
    const r = await fetch(`${stack.authUrl}/auth/oidc/providers`)
    t.same(await r.json(), { providers: [{ id: 'test', name: 'Test IdP' }] })
  })

  t.test('the authorization request uses PKCE, state and nonce, bound by an httpOnly cookie', async (t) => {
    const start = await fetch(`${stack.authUrl}/auth/oidc/test/start`, { redirect: 'manual' })
    const u = new URL(start.headers.get('location')!)
    t.equal(u.origin, p.issuer)
    t.equal(u.searchParams.get('code_challenge_method'), 'S256')
    t.ok(u.searchParams.get('state') && u.searchParams.get('nonce') && u.searchParams.get('code_challenge'))
    t.equal(u.searchParams.get('redirect_uri'), 'http://localhost:8080/auth/oidc/test/callback')
    const cookie = start.headers.getSetCookie().find((c) => c.startsWith(`${OIDC_FLOW_COOKIE}=`))!
    t.match(cookie, /HttpOnly/i)
    t.match(cookie, /SameSite=Lax/i)
    t.match(cookie, /Path=\/auth\/oidc/)
  })

  t.test('happy path: an account for (issuer, subject), a normal session, the next path', async (t) => {
    signAs(p, { sub: 'alice-sub', email: 'alice@idp.example', emailVerified: true })
    const a = await signIn(stack, p, { next: '/rooms/1?x=y' })
    t.equal(a.status, 302)
    t.equal(a.location, '/rooms/1?x=y')
    t.ok(a.browser.get(AUTH_COOKIES.access), 'access cookie set')
    t.ok(a.browser.get(AUTH_COOKIES.refresh), 'refresh cookie set')
    t.notOk(a.browser.get(OIDC_FLOW_COOKIE), 'the flow cookie is cleared')
    const row = await stack.auth.pg.query('SELECT u.email, u.roles, i.subject, i.issuer FROM auth.oidc_identities i JOIN auth.users u ON u.id = i.user_id')
    t.same(row.rows, [{ email: 'alice@idp.example', roles: ['member'], subject: 'alice-sub', issuer: p.issuer }])
    t.equal(await count(stack, "SELECT count(*)::int AS n FROM auth.audit_log WHERE event = 'login.succeeded' AND details->>'via' = 'oidc:test'"), 1)
    // The second time: the same account, a second session.
    const again = await signIn(stack, p)
    t.equal(again.status, 302)
    t.equal(await count(stack, "SELECT count(*)::int AS n FROM auth.users WHERE email = 'alice@idp.example'"), 1)
    t.equal(await sessionsOf(stack, 'alice@idp.example'), 2)
  })

  t.test('next is only ever a same-origin path', async (t) => {
    for (const next of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)', '/%2f%2fevil.example']) {
      const a = await signIn(stack, p, { next })
      t.equal(a.status, 302)
      t.equal(a.location, '/', `${next} → /`)
    }
  })

  t.test('a wrong state, or no flow cookie, is refused', async (t) => {
    const before = await sessionsOf(stack, 'alice@idp.example')
    const wrong = await signIn(stack, p, { editCallback: (u) => u.searchParams.set('state', 'x'.repeat(43)) })
    t.equal(wrong.status, 401)
    t.equal(wrong.code, 'OIDC_FAILED')
    // A callback carried to another browser (login CSRF): no cookie there.
    const a = await fetch(`${stack.authUrl}/auth/oidc/test/start`, { redirect: 'manual' })
    const callback = await throughProvider(p, a.headers.get('location')!)
    const elsewhere = await callAt(stack, callback, new Map())
    t.equal(elsewhere.status, 401)
    t.equal(elsewhere.code, 'OIDC_FAILED')
    t.equal(await sessionsOf(stack, 'alice@idp.example'), before, 'no session')
  })

  t.test('a replayed code is refused, with the same or a fresh flow cookie', async (t) => {
    const first = await signIn(stack, p)
    t.equal(first.status, 302)
    const before = await sessionsOf(stack, 'alice@idp.example')
    t.ok(first.flowCookie)
    const replay = await callAt(stack, first.callback, new Map([...first.browser, [OIDC_FLOW_COOKIE, first.flowCookie!]]))
    t.equal(replay.status, 401, 'same browser: the flow is spent')
    const fresh = new Map<string, string>()
    palisadeCookies(await fetch(`${stack.authUrl}/auth/oidc/test/start`, { redirect: 'manual' }), fresh)
    const withNewFlow = await callAt(stack, first.callback, fresh)
    t.equal(withNewFlow.status, 401, 'a new flow does not accept an old code')
    t.equal(await sessionsOf(stack, 'alice@idp.example'), before)
  })

  t.test('ID tokens that fail a claim check are refused', async (t) => {
    const before = await sessionsOf(stack, 'alice@idp.example')
    const now = Math.floor(Date.now() / 1000)
    const cases: Record<string, (c: Record<string, unknown>) => Record<string, unknown>> = {
      'wrong nonce': (c) => ({ ...c, nonce: 'not-the-one-we-sent' }),
      'another audience': (c) => ({ ...c, aud: 'some-other-client', azp: 'some-other-client' }),
      expired: (c) => ({ ...c, iat: now - 3600, exp: now - 1800 }),
      'another issuer': (c) => ({ ...c, iss: 'http://127.0.0.1:1' })
    }
    for (const [name, tamper] of Object.entries(cases)) {
      p.tamperIdToken = tamper
      const a = await signIn(stack, p)
      t.equal(a.status, 401, name)
      t.equal(a.code, 'OIDC_FAILED', name)
    }
    p.tamperIdToken = undefined
    // The nonce swapped in the authorization request, as an attacker replaying another flow would.
    const swapped = await signIn(stack, p, { editAuthorization: (u) => u.searchParams.set('nonce', 'attacker-nonce') })
    t.equal(swapped.status, 401, 'nonce of another flow')
    t.equal(await sessionsOf(stack, 'alice@idp.example'), before, 'no session from any of them')
    t.ok((await signIn(stack, p)).status === 302, 'the untampered flow still works (the checks are what refused)')
  })

  t.test('an email of a local account never links by itself; the signed-in owner links it', async (t) => {
    const local = await stack.createUser({ email: 'bob@idp.example' })
    signAs(p, { sub: 'bob-sub', email: 'bob@idp.example', emailVerified: true })
    const a = await signIn(stack, p)
    t.equal(a.status, 409)
    t.equal(a.code, 'OIDC_EMAIL_COLLISION')
    t.notOk(a.browser.get(AUTH_COOKIES.access))
    t.equal(await count(stack, "SELECT count(*)::int AS n FROM auth.oidc_identities WHERE subject = 'bob-sub'"), 0)

    const link = await asUser(stack, local, 'POST', '/auth/identities/test/link')
    t.equal(link.statusCode, 200)
    const browser = new Map<string, string>()
    const flowCookie = (link.cookies as { name: string; value: string }[]).find((c) => c.name === OIDC_FLOW_COOKIE)!
    browser.set(OIDC_FLOW_COOKIE, flowCookie.value)
    const callback = await throughProvider(p, link.json().url)
    const linked = await callAt(stack, callback, browser)
    t.equal(linked.status, 302)
    const ids = await asUser(stack, local, 'GET', '/auth/identities')
    t.equal(ids.json().identities.length, 1)
    t.equal(ids.json().hasPassword, true)
    const seen = await asUser(stack, root, 'GET', `/auth/admin/users/${local.userId}`)
    t.match(seen.json().identities, [{ provider: 'test', email: 'bob@idp.example' }], 'an admin sees the linked identity')
    // Now bob signs in with the provider, into his own account.
    const now = await signIn(stack, p)
    t.equal(now.status, 302)
    t.ok(now.browser.get(AUTH_COOKIES.access))
    // He keeps his password, so unlinking is allowed.
    t.equal((await asUser(stack, local, 'DELETE', `/auth/identities/${ids.json().identities[0].id}`)).statusCode, 204)
  })

  t.test('an account with no password cannot unlink its only identity', async (t) => {
    signAs(p, { sub: 'carol-sub', email: 'carol@idp.example', emailVerified: true })
    const a = await signIn(stack, p)
    t.equal(a.status, 302)
    const sessionId = (await stack.auth.pg.query("SELECT s.id FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id WHERE u.email = 'carol@idp.example'"))
      .rows[0].id
    const carol = { accessToken: a.browser.get(AUTH_COOKIES.access)!, sessionId } as unknown as TestUser
    const ids = await asUser(stack, carol, 'GET', '/auth/identities')
    t.equal(ids.json().hasPassword, false)
    const r = await asUser(stack, carol, 'DELETE', `/auth/identities/${ids.json().identities[0].id}`)
    t.equal(r.statusCode, 409)
    t.equal(r.json().code, 'LAST_SIGN_IN_METHOD')
    // And no password logs into it.
    const login = await fetch(`${stack.authUrl}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'carol@idp.example', password: '!oidc-no-password' })
    })
    t.equal(login.status, 401)
  })

  t.test('back-channel logout: a valid logout token ends the sessions, forged ones nothing', async (t) => {
    signAs(p, { sub: 'frank-sub', email: 'frank@idp.example', emailVerified: true })
    t.equal((await signIn(stack, p)).status, 302)
    t.equal((await signIn(stack, p)).status, 302)
    const live = () =>
      count(
        stack,
        "SELECT count(*)::int AS n FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id WHERE u.email = 'frank@idp.example' AND s.revoked_at IS NULL"
      )
    t.equal(await live(), 2)
    const now = Math.floor(Date.now() / 1000)
    const good = {
      iss: p.issuer,
      aud: CLIENT_ID,
      iat: now,
      jti: `j-${now}`,
      sub: 'frank-sub',
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} }
    }
    const post = (token: string) =>
      fetch(`${stack.authUrl}/auth/oidc/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }).toString()
      })
    const forged: Record<string, string> = {
      'another audience': p.sign({ ...good, aud: 'someone-else' }),
      'with a nonce': p.sign({ ...good, nonce: 'n' }),
      'no logout event': p.sign({ ...good, events: {} }),
      unsigned: `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(good)).toString('base64url')}.`,
      'another issuer': p.sign({ ...good, iss: 'http://127.0.0.1:1' })
    }
    for (const [name, token] of Object.entries(forged)) t.equal((await post(token)).status, 400, name)
    t.equal(await live(), 2, 'nothing ended by a forged token')
    t.equal((await post(p.sign(good))).status, 200)
    t.equal(await live(), 0, 'both sessions of that provider subject ended')

    // The same logout token again (its jti seen) is refused, even once there is a session to end.
    t.equal((await signIn(stack, p)).status, 302)
    t.equal((await post(p.sign(good))).status, 400, 'a replayed jti is refused')
    t.equal(await live(), 1, 'the replay ended nothing')
    const kept = await stack.auth.pg.query<{ secs: number }>(
      'SELECT extract(epoch FROM expires_at)::int - $2::int AS secs FROM auth.oidc_logout_tokens WHERE issuer = $1 AND jti = $3',
      [p.issuer, now, good.jti]
    )
    t.ok(kept.rows[0]!.secs >= 660 && kept.rows[0]!.secs < 700, 'the jti is kept until the token is past its age limit (iat + 10 min, + 1 min)')
    t.equal((await post(p.sign({ ...good, jti: `${good.jti}-2` }))).status, 200, 'a new jti is accepted')
    t.equal(await live(), 0)
  })

  t.test('the provider’s own logout reaches auth over the back channel', async (t) => {
    signAs(p, { sub: 'gina-sub', email: 'gina@idp.example', emailVerified: true })
    t.equal((await signIn(stack, p)).status, 302)
    const sid = await stack.auth.pg.query<{ sid: string | null }>("SELECT sid FROM auth.oidc_sessions WHERE subject = 'gina-sub'")
    t.ok(sid.rows[0]?.sid, 'the provider’s sid is recorded with the session')
    const before = p.logouts.length
    await p.endSession()
    t.same(p.logouts.slice(before), [{ ok: true }], 'the provider delivered its logout token and auth answered 200')
    t.equal(await liveOf(stack, 'gina-sub'), 0)
  })

  t.test('front-channel logout: the provider’s iframe with iss and sid ends that session', async (t) => {
    signAs(p, { sub: 'hal-sub', email: 'hal@idp.example', emailVerified: true })
    t.equal((await signIn(stack, p)).status, 302)
    signAs(p, { sub: 'hal-sub', email: 'hal@idp.example', emailVerified: true })
    t.equal((await signIn(stack, p)).status, 302, 'a second provider session (another browser)')
    const sids = (await stack.auth.pg.query<{ sid: string }>("SELECT sid FROM auth.oidc_sessions WHERE subject = 'hal-sub' ORDER BY created_at")).rows
    t.equal(sids.length, 2)
    t.not(sids[0]!.sid, sids[1]!.sid)
    const front = (query: string, headers: Record<string, string> = {}) => fetch(`${stack.authUrl}/auth/oidc/frontchannel-logout${query}`, { headers })
    const q = (iss: string, sid: string) => `?${new URLSearchParams({ iss, sid })}`

    const attacks: Record<string, [string, number]> = {
      'no parameters': ['', 400],
      'no sid': [`?${new URLSearchParams({ iss: p.issuer })}`, 400],
      'no iss': [`?${new URLSearchParams({ sid: sids[0]!.sid })}`, 400],
      'an unknown issuer': [q('http://127.0.0.1:1', sids[0]!.sid), 400],
      'an issuer spelled differently': [q(`${p.issuer}/`, sids[0]!.sid), 400],
      'an oversized sid': [q(p.issuer, 'x'.repeat(300)), 400],
      'a parameter more': [`${q(p.issuer, sids[0]!.sid)}&next=/`, 400],
      'a wrong sid': [q(p.issuer, 'not-a-session-of-this-provider'), 200]
    }
    for (const [name, [query, status]] of Object.entries(attacks)) {
      const r = await front(query)
      t.equal(r.status, status, name)
      if (status === 400) t.match(r.headers.get('content-security-policy'), /frame-ancestors 'none'/, `${name}: a refusal is not frameable`)
    }
    t.equal(await liveOf(stack, 'hal-sub'), 2, 'none of them ended a session')

    // As the provider's logout page loads it: a cross-site iframe navigation, no cookie of ours.
    const r = await front(q(p.issuer, sids[0]!.sid), { 'sec-fetch-dest': 'iframe', 'sec-fetch-site': 'cross-site', accept: 'text/html' })
    t.equal(r.status, 200)
    t.match(r.headers.get('content-type'), /^text\/html/)
    t.equal(r.headers.get('content-security-policy'), `default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors ${p.issuer}`)
    t.match(r.headers.get('cache-control'), /no-store/)
    t.equal(r.headers.getSetCookie().length, 0, 'no cookie set')
    t.match(await r.text(), /Signed out/)
    t.equal(await liveOf(stack, 'hal-sub'), 1, 'exactly the session of that provider session ended')
    t.equal((await front(q(p.issuer, sids[0]!.sid))).status, 200, 'again: nothing left to end, the same answer')
    t.equal(await liveOf(stack, 'hal-sub'), 1)
    t.equal(await count(stack, "SELECT count(*)::int AS n FROM auth.audit_log WHERE event = 'oidc.frontchannel_logout' AND details->>'sessions' = '1'"), 1)
  })

  t.test('a browser at a failed callback lands on the login page with a fixed error code', async (t) => {
    const page = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }
    signAs(p, { sub: 'alice-sub', email: 'alice@idp.example', emailVerified: true })
    const wrong = await signIn(stack, p, { headers: page, editCallback: (u) => u.searchParams.set('state', 'x'.repeat(43)) })
    t.equal(wrong.status, 302)
    t.equal(wrong.location, '/login?error=OIDC_FAILED')
    t.notOk(wrong.browser.get(AUTH_COOKIES.access))

    signAs(p, { sub: 'bob2-sub', email: 'root@example.com', emailVerified: true })
    const collision = await signIn(stack, p, { headers: page })
    t.equal(collision.location, '/login?error=OIDC_EMAIL_COLLISION')

    // What the provider (or an attacker) puts in the callback URL is never reflected.
    const start = await fetch(`${stack.authUrl}/auth/oidc/test/start`, { redirect: 'manual' })
    const browser = palisadeCookies(start)
    const forged = new URL('http://localhost:8080/auth/oidc/test/callback')
    forged.search = new URLSearchParams({ error: 'OIDC_NOT_ALLOWED', error_description: '<script>alert(1)</script>', state: 'x' }).toString()
    const reflected = await callAt(stack, forged, browser, page)
    t.equal(reflected.location, '/login?error=OIDC_FAILED')
    const unknown = await callAt(stack, new URL('http://localhost:8080/auth/oidc/nope/callback?code=x'), new Map(), page)
    t.equal(unknown.location, '/login?error=OIDC_FAILED', 'an unknown provider: the generic code')

    // A link attempt goes back to the app's account page, with its outcome.
    const zed = await stack.createUser({ email: 'zed@example.com' })
    const link = async () => {
      const r = await asUser(stack, zed, 'POST', '/auth/identities/test/link')
      const flow = (r.cookies as { name: string; value: string }[]).find((c) => c.name === OIDC_FLOW_COOKIE)!
      return callAt(stack, await throughProvider(p, r.json().url), new Map([[OIDC_FLOW_COOKIE, flow.value]]), page)
    }
    signAs(p, { sub: 'carol-sub', email: 'carol@idp.example', emailVerified: true })
    t.equal((await link()).location, '/?link=OIDC_NOT_ALLOWED', 'an identity linked to another account')
    signAs(p, { sub: 'zed-sub', email: 'zed@idp.example', emailVerified: true })
    t.equal((await link()).location, '/?link=ok')

    // An API client asking for JSON still gets the problem.
    signAs(p, { sub: 'bob2-sub', email: 'root@example.com', emailVerified: true })
    const api = await signIn(stack, p, { headers: { accept: 'application/json' } })
    t.equal(api.status, 409)
    t.equal(api.code, 'OIDC_EMAIL_COLLISION')
  })

  t.test('an unverified email creates no account', async (t) => {
    signAs(p, { sub: 'dave-sub', email: 'dave@idp.example', emailVerified: false })
    const a = await signIn(stack, p)
    t.equal(a.status, 403)
    t.equal(a.code, 'OIDC_NOT_ALLOWED')
  })
})

test('registration mode, domain rule and MFA apply to OIDC sign-ins', async (t) => {
  const p = await startTestProvider(t)
  const stack = await startTestStack(t, {
    auth: {
      AUTH_OIDC_PROVIDERS: providersSetting(p, { allowedEmailDomains: ['corp.example'], trustMfa: true }),
      AUTH_REGISTRATION: 'open',
      AUTH_REQUIRE_MFA: 'all'
    }
  })
  // An admin exists already (inserted: with MFA required for all, its password login would stop at a second step).
  await stack.auth.pg.query(
    "INSERT INTO auth.users (id, email, display_name, password_hash, roles) VALUES (gen_random_uuid(), 'root@example.com', 'root', 'x', '{admin}')"
  )

  signAs(p, { sub: 'x-sub', email: 'x@elsewhere.example', emailVerified: true })
  const outside = await signIn(stack, p)
  t.equal(outside.status, 403)
  t.equal(outside.code, 'OIDC_NOT_ALLOWED', 'a domain ops did not allow')

  signAs(p, { sub: 'erin-sub', email: 'erin@corp.example', emailVerified: true, amr: ['pwd'] })
  const single = await signIn(stack, p)
  t.equal(single.status, 302)
  t.match(single.location, /^\/login\?second=enrol&next=%2F&methods=totp,passkey$/, 'no provider MFA: Palisade’s own second step')
  t.ok(single.browser.get(MFA_TICKET_COOKIE), 'a login ticket, not a session')
  t.notOk(single.browser.get(AUTH_COOKIES.access))

  signAs(p, { sub: 'erin-sub', email: 'erin@corp.example', emailVerified: true, amr: ['pwd', 'otp'] })
  const multi = await signIn(stack, p)
  t.equal(multi.status, 302)
  t.equal(multi.location, '/')
  t.ok(multi.browser.get(AUTH_COOKIES.access), 'the provider’s MFA counts for a trusted provider')
})

test('invite-only and closed installations refuse new OIDC accounts', async (t) => {
  // This provider gives the email only from UserInfo: INVITE_REQUIRED (not OIDC_NOT_ALLOWED) shows it was read.
  const p = await startTestProvider(t, { emailInUserInfo: true })
  const stack = await startTestStack(t, { auth: { AUTH_OIDC_PROVIDERS: providersSetting(p), AUTH_REGISTRATION: 'invite', AUTH_REQUIRE_MFA: 'none' } })
  await stack.createUser({ email: 'root@example.com' })
  signAs(p, { sub: 'new-sub', email: 'new@idp.example', emailVerified: true })
  const a = await signIn(stack, p)
  t.equal(a.status, 403)
  t.equal(a.code, 'INVITE_REQUIRED')
  t.equal(await count(stack, "SELECT count(*)::int AS n FROM auth.users WHERE email = 'new@idp.example'"), 0)
})

test('group rules: allowedGroups for sign-in, adminGroup for the role', async (t) => {
  const p = await startTestProvider(t)
  const stack = await startTestStack(t, {
    auth: {
      AUTH_OIDC_PROVIDERS: providersSetting(p, {
        scopes: ['email', 'profile', 'groups'],
        allowedGroups: ['palisade-users', 'palisade-admins'],
        adminGroup: 'palisade-admins'
      }),
      AUTH_REGISTRATION: 'open',
      AUTH_REQUIRE_MFA: 'none'
    }
  })
  const root = await stack.createUser({ email: 'root@example.com' })
  const roleOf = async (email: string) =>
    (await stack.auth.pg.query<{ roles: string[] }>('SELECT roles FROM auth.users WHERE email = $1', [email])).rows[0]?.roles
  const audits = (event: string) => count(stack, 'SELECT count(*)::int AS n FROM auth.audit_log WHERE event = $1', [event])

  t.test('no allowed group, or no groups claim: refused, no account', async (t) => {
    for (const groups of [['other-team'], [], undefined]) {
      signAs(p, { sub: 'out-sub', email: 'out@idp.example', emailVerified: true, ...(groups ? { groups } : {}) })
      const a = await signIn(stack, p)
      t.equal(a.status, 403, JSON.stringify(groups))
      t.equal(a.code, 'OIDC_GROUP_NOT_ALLOWED')
    }
    t.equal(await count(stack, "SELECT count(*)::int AS n FROM auth.users WHERE email = 'out@idp.example'"), 0)
    t.equal(await audits('oidc.refused'), 3)
  })

  t.test('an allowed group signs in as a member; the admin group promotes, leaving it demotes', async (t) => {
    signAs(p, { sub: 'ivy-sub', email: 'ivy@idp.example', emailVerified: true, groups: ['palisade-users'] })
    t.equal((await signIn(stack, p)).status, 302)
    t.same(await roleOf('ivy@idp.example'), ['member'])
    t.equal(await audits('oidc.role_changed'), 0, 'member already: nothing changed, nothing audited')

    signAs(p, { sub: 'ivy-sub', email: 'ivy@idp.example', emailVerified: true, groups: ['palisade-users', 'palisade-admins'] })
    const promoted = await signIn(stack, p)
    t.equal(promoted.status, 302)
    t.same(await roleOf('ivy@idp.example'), ['admin'])
    t.equal(await liveOf(stack, 'ivy-sub'), 1, 'the role change ended the older session; the new one carries the new role')
    t.equal(await audits('oidc.role_changed'), 1)
    const me = await fetch(`${stack.authUrl}/auth/verify`, {
      headers: { cookie: cookieHeader(promoted.browser), 'x-forwarded-uri': '/auth/me', 'x-forwarded-method': 'GET' }
    })
    t.equal(me.status, 200)
    const assertion = me.headers.get('x-authenticated-assertion')!
    t.same(JSON.parse(Buffer.from(assertion.split('.')[1]!, 'base64url').toString()).roles, ['admin'], 'the new session is an admin’s')

    signAs(p, { sub: 'ivy-sub', email: 'ivy@idp.example', emailVerified: true, groups: ['palisade-users'] })
    t.equal((await signIn(stack, p)).status, 302)
    t.same(await roleOf('ivy@idp.example'), ['member'], 'out of the admin group at the provider: a member again')
    t.equal(await audits('oidc.role_changed'), 2)
  })

  t.test('the claim never demotes the last enabled admin', async (t) => {
    signAs(p, { sub: 'jo-sub', email: 'jo@idp.example', emailVerified: true, groups: ['palisade-admins'] })
    t.equal((await signIn(stack, p)).status, 302)
    t.same(await roleOf('jo@idp.example'), ['admin'])
    await stack.auth.pg.query('UPDATE auth.users SET disabled_at = now() WHERE id = $1', [root.userId])
    signAs(p, { sub: 'jo-sub', email: 'jo@idp.example', emailVerified: true, groups: ['palisade-users'] })
    t.equal((await signIn(stack, p)).status, 302, 'the sign-in itself goes on')
    t.same(await roleOf('jo@idp.example'), ['admin'], 'still admin: the installation keeps one')
    t.equal(await audits('oidc.role_change_refused'), 1)
  })
})

test('groups only in UserInfo are read from there', async (t) => {
  const p = await startTestProvider(t, { emailInUserInfo: true })
  const stack = await startTestStack(t, {
    auth: {
      AUTH_OIDC_PROVIDERS: providersSetting(p, { scopes: ['email', 'profile', 'groups'], allowedGroups: ['palisade-users'] }),
      AUTH_REGISTRATION: 'open',
      AUTH_REQUIRE_MFA: 'none'
    }
  })
  await stack.createUser({ email: 'root@example.com' })
  signAs(p, { sub: 'kim-sub', email: 'kim@idp.example', emailVerified: true, groups: ['palisade-users'] })
  t.equal((await signIn(stack, p)).status, 302)
  signAs(p, { sub: 'lee-sub', email: 'lee@idp.example', emailVerified: true, groups: ['elsewhere'] })
  t.equal((await signIn(stack, p)).code, 'OIDC_GROUP_NOT_ALLOWED')
})

test('a browser over the callback rate limit lands on the login page too', async (t) => {
  const p = await startTestProvider(t)
  const stack = await startTestStack(t, { auth: { AUTH_OIDC_PROVIDERS: providersSetting(p), AUTH_RATE_LIMIT_PER_MINUTE: 2 } })
  const page = { accept: 'text/html', 'sec-fetch-mode': 'navigate' }
  const callback = new URL('http://localhost:8080/auth/oidc/test/callback?code=x&state=y')
  const seen: (string | null)[] = []
  for (let i = 0; i < 3; i++) seen.push((await callAt(stack, callback, new Map(), page)).location)
  t.same(seen, ['/login?error=OIDC_FAILED', '/login?error=OIDC_FAILED', '/login?error=TOO_MANY_REQUESTS'])
  const api = await callAt(stack, callback, new Map(), { accept: 'application/json' })
  t.equal(api.status, 429)
  t.equal(api.code, 'TOO_MANY_REQUESTS')
})

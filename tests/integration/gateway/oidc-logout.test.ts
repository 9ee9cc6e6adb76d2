import t from 'tap'
import { generate } from 'otplib'
import { AUTH_COOKIES, MFA_TICKET_COOKIE } from '@palisade/contracts'
import { CLIENT_ID, CLIENT_SECRET, oidcSignIn, signAs, startTestProvider, TEST_PROVIDER_ID } from '@palisade/testkit/oidc-provider'
import { gatewayHarness } from './helpers.js'

/**
 * A provider sign-in finished with Palisade's own second factor belongs to the provider session it
 * came from: the provider's logout (its end-session page, then a back-channel logout token) ends
 * that Palisade session and closes its sockets, and nothing of another provider session.
 */
t.test('provider sign-in → TOTP → provider logout ends that session and its sockets', async (t) => {
  const p = await startTestProvider(t)
  const h = await gatewayHarness(t, {
    auth: {
      AUTH_OIDC_PROVIDERS: JSON.stringify([{ id: TEST_PROVIDER_ID, name: 'Test IdP', issuer: p.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }]),
      AUTH_REGISTRATION: 'open',
      AUTH_REQUIRE_MFA: 'none'
    }
  })
  p.logoutTarget = h.stack.authUrl
  await h.stack.createUser() // the installation's admin
  const mia = { sub: 'mia-sub', email: 'mia@idp.example', emailVerified: true }
  const authed = async (accessToken: string, method: string, url: string, body?: unknown) => {
    const headers = await h.stack.identityHeaders({ accessToken }, { method, uri: url })
    const res = await h.stack.auth.inject({ method: method as 'POST', url, headers, ...(body ? { payload: body as object } : {}) })
    return res.json()
  }

  // First sign-in (no factor yet): an account and a session; Mia enrols an authenticator app.
  signAs(p, mia)
  const first = await oidcSignIn(h.stack.authUrl, p)
  t.equal(first.status, 302)
  const firstToken = first.browser.get(AUTH_COOKIES.access)!
  const { secret } = await authed(firstToken, 'POST', '/auth/mfa/totp', {})
  const code = (steps: number) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + steps * 30 })
  t.ok((await authed(firstToken, 'POST', '/auth/mfa/totp/confirm', { code: await code(-1) })).recoveryCodes)

  // Second sign-in, in another provider session: the provider step, then Palisade's TOTP step.
  signAs(p, mia)
  const second = await oidcSignIn(h.stack.authUrl, p)
  t.match(second.location, /^\/login\?second=mfa/)
  const ticket = second.browser.get(MFA_TICKET_COOKIE)
  t.ok(ticket, 'a login ticket')
  const mfa = await fetch(`${h.stack.authUrl}/auth/login/mfa`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'http://localhost:8080', cookie: `${MFA_TICKET_COOKIE}=${ticket}` },
    body: JSON.stringify({ code: await code(0) })
  })
  t.equal(mfa.status, 200)
  const { accessToken, sessionId } = (await mfa.json()) as { accessToken: string; sessionId: string }
  const recorded = await h.stack.auth.pg.query<{ sid: string | null }>('SELECT sid FROM auth.oidc_sessions WHERE session_id = $1', [sessionId])
  t.ok(recorded.rows[0]?.sid, 'the session the second step started is recorded with its provider session')

  const afterMfa = await h.connect({ accessToken } as never)
  const other = await h.connect({ accessToken: firstToken } as never)

  // Mia signs out at the provider, in the browser of the second sign-in.
  const before = p.logouts.length
  await p.endSession()
  t.same(p.logouts.slice(before), [{ ok: true }], 'the provider delivered a logout token and auth accepted it')
  t.match(await afterMfa.closedWithin(5000), { code: 4001 }, 'its socket closed')
  t.equal(other.ws.readyState, other.ws.OPEN, 'the session of the other provider session stays')
  const live = await h.stack.auth.pg.query<{ id: string }>(
    'SELECT id FROM auth.sessions WHERE revoked_at IS NULL AND user_id = (SELECT user_id FROM auth.oidc_sessions LIMIT 1)'
  )
  t.notOk(
    live.rows.some((r) => r.id === sessionId),
    'the MFA-completed session is revoked'
  )
  other.close()
})

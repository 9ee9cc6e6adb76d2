import t0, { test } from 'tap'
import { call, startTestStack } from './helpers.js'
import { ageAuthentication, asUser, enrolTotp, totp } from './mfa-helpers.js'

const stack = await startTestStack(t0)

test('password change needs an authentication within 5 minutes', async (t) => {
  const u = await stack.createUser()
  const change = (newPassword: string) => asUser(stack, u, 'POST', '/auth/password', { currentPassword: u.password, newPassword })
  await ageAuthentication(stack, u.sessionId, 301)
  const stale = await change('a brand new passphrase 1')
  t.equal(stale.status, 401)
  t.equal(stale.json().code, 'REAUTH_REQUIRED', 'the current password alone is not enough on a stale session')

  // A refresh is no authentication: it must not reopen the window.
  const refreshed = await call(`${stack.authUrl}/auth/refresh`, { method: 'POST', json: { refreshToken: u.refreshToken } })
  t.equal(refreshed.status, 200)
  t.equal((await change('a brand new passphrase 1')).json().code, 'REAUTH_REQUIRED', 'refresh does not count as re-authentication')

  const wrong = await asUser(stack, u, 'POST', '/auth/reauth', { password: 'not the password at all' })
  t.equal(wrong.status, 403)
  t.equal(wrong.json().code, 'INVALID_CREDENTIALS')
  const failures = await stack.auth.pg.query('SELECT count(*) FROM auth.login_failures WHERE account = $1', [u.email])
  t.equal(Number(failures.rows[0].count), 1, 'a wrong re-authentication counts toward the account lock')
  t.equal((await change('a brand new passphrase 1')).json().code, 'REAUTH_REQUIRED')

  const ok = await asUser(stack, u, 'POST', '/auth/reauth', { password: u.password })
  t.equal(ok.status, 200)
  t.equal(ok.json().validFor, 300)
  t.equal((await change('a brand new passphrase 1')).status, 204, 'changed after re-authentication')

  await ageAuthentication(stack, u.sessionId, 299)
  t.equal((await asUser(stack, u, 'POST', '/auth/mfa/totp', {})).status, 200, 'still fresh just inside the window')
})

test('every factor and recovery-code change needs step-up', async (t) => {
  const u = await stack.createUser()
  const { secret } = await enrolTotp(stack, u)
  await ageAuthentication(stack, u.sessionId)
  const guarded: [string, string, unknown?][] = [
    ['POST', '/auth/mfa/totp', {}],
    ['POST', '/auth/mfa/totp/confirm', { code: '123456' }],
    ['DELETE', '/auth/mfa/totp'],
    ['POST', '/auth/mfa/recovery-codes', {}],
    ['POST', '/auth/mfa/passkeys/options', {}],
    ['DELETE', '/auth/mfa/passkeys/00000000-0000-4000-8000-000000000000']
  ]
  for (const [method, url, body] of guarded) {
    const r = await asUser(stack, u, method, url, body)
    t.equal(r.status, 401, `${method} ${url}`)
    t.equal(r.json().code, 'REAUTH_REQUIRED', `${method} ${url}`)
  }
  t.equal((await asUser(stack, u, 'GET', '/auth/mfa')).status, 200, 'reading the factors needs no step-up')
  const codes = await stack.auth.pg.query('SELECT count(*) FROM auth.recovery_codes WHERE user_id = $1', [u.userId])
  t.equal(Number(codes.rows[0].count), 10, 'nothing changed')

  // A TOTP code re-authenticates too, once.
  const code = await totp(secret)
  t.equal((await asUser(stack, u, 'POST', '/auth/reauth', { code })).status, 200)
  t.equal((await asUser(stack, u, 'POST', '/auth/mfa/recovery-codes', {})).status, 200)
  await ageAuthentication(stack, u.sessionId)
  const replay = await asUser(stack, u, 'POST', '/auth/reauth', { code })
  t.equal(replay.status, 403, 'the same code cannot re-authenticate twice')
  t.equal(replay.json().code, 'INVALID_CODE')
})

test('re-authentication is per session', async (t) => {
  const u = await stack.createUser()
  const other = await call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email: u.email, password: u.password } })
  const second = { accessToken: other.json().accessToken as string, sessionId: other.json().sessionId as string }
  await ageAuthentication(stack, u.sessionId)
  await ageAuthentication(stack, second.sessionId)
  t.equal((await asUser(stack, second, 'POST', '/auth/reauth', { password: u.password })).status, 200)
  t.equal((await asUser(stack, u, 'POST', '/auth/mfa/totp', {})).json().code, 'REAUTH_REQUIRED', 'the other session stays stale')
  t.equal((await asUser(stack, second, 'POST', '/auth/mfa/totp', {})).status, 200)
  const bad = await asUser(stack, u, 'POST', '/auth/reauth', { password: u.password, code: '123456' })
  t.equal(bad.status, 400, 'one proof at a time')
})

import { test } from 'tap'
import { captureLogs } from '@palisade/platform/testing'
import { call, forwarded, ORIGIN, verifyAt, startTestStack } from './helpers.js'

test('nothing secret reaches the logs, even at trace level and on errors', async (t) => {
  const logs = captureLogs()
  const stack = await startTestStack(t, { auth: { LOG_LEVEL: 'trace' }, authLogStream: logs.stream })
  const password = 'Secret-Horse-Battery-7781'
  const alice = await stack.createUser({ password })
  const url = (p: string) => `${stack.authUrl}${p}`
  await call(url('/auth/login'), { method: 'POST', json: { email: alice.email, password: 'Wrong-Password-Guess-1' } })
  await call(url('/auth/login'), { method: 'POST', json: { email: alice.email, password, extra: 'x' } })
  await call(url('/auth/login'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"email":"${alice.email}","password":"${password}"`
  })
  const refreshed = await call(url('/auth/refresh'), { method: 'POST', headers: { cookie: `palisade_refresh=${alice.refreshToken}`, origin: ORIGIN } })
  const newRefresh = refreshed.headers
    .getSetCookie()
    .find((c) => c.startsWith('palisade_refresh='))!
    .split(';')[0]!
    .split('=')[1]!
  const newAccess = refreshed.json().accessToken as string
  await verifyAt(
    stack.auth,
    forwarded('POST', `/api/chat/x?token=${newAccess}`, { cookie: `palisade_access=${newAccess}`, authorization: `Bearer ${newAccess}` })
  )
  const headers = await stack.identityHeaders(alice, { method: 'POST', uri: '/auth/password' })
  await stack.auth.inject({ method: 'POST', url: '/auth/password', headers, payload: { currentPassword: password, newPassword: 'Another-Long-Passphrase-99' } })
  await call(url('/auth/refresh'), { method: 'POST', json: { refreshToken: alice.refreshToken } }) // reuse: revokes the family
  await call(url('/auth/logout'), { method: 'POST', headers: { cookie: alice.cookie, origin: ORIGIN } })

  const text = logs.text()
  t.ok(logs.lines.length > 10, `captured ${logs.lines.length} log lines`)
  t.ok(text.includes('"reqId"'), 'request ids are logged')
  const secrets: Record<string, string> = {
    password,
    'wrong password': 'Wrong-Password-Guess-1',
    'new password': 'Another-Long-Passphrase-99',
    'access token': alice.accessToken,
    'refreshed access token': newAccess,
    'refresh token': alice.refreshToken,
    'rotated refresh token': newRefresh,
    assertion: headers['x-authenticated-assertion'],
    'access token signature': alice.accessToken.split('.')[2]!,
    'refresh token prefix': alice.refreshToken.slice(0, 16)
  }
  for (const [name, value] of Object.entries(secrets)) t.notOk(text.includes(value), `no ${name} in the logs`)
  t.notOk(/palisade_(access|refresh)=[^;\s"]/.test(text), 'no cookie values in the logs')
})

test('bodies over the limit get 413 and unknown fields 400, on every endpoint that takes a body', async (t) => {
  const stack = await startTestStack(t)
  const alice = await stack.createUser()
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    call(`${stack.authUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })
  const huge = (kb: number) => JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(kb * 1024) })
  for (const [path, kb] of [
    ['/auth/register', 17],
    ['/auth/login', 17],
    ['/auth/refresh', 2],
    ['/auth/logout', 2]
  ] as const) {
    const r = await post(path, huge(kb))
    t.equal(r.status, 413, `${path} over its limit`)
    t.equal(r.json().code, 'BODY_TOO_LARGE')
  }
  const unknown: [string, object][] = [
    ['/auth/login', { email: alice.email, password: alice.password, admin: true }],
    ['/auth/register', { email: 'z@example.com', password: 'violet-kettle-harbour-92', displayName: 'Z', id: '00000000-0000-0000-0000-000000000000' }],
    ['/auth/refresh', { refreshToken: alice.refreshToken, extra: 1 }],
    ['/auth/logout', { everything: true }]
  ]
  for (const [path, body] of unknown) {
    const r = await post(path, JSON.stringify(body))
    t.equal(r.status, 400, `${path} with an unknown field`)
    t.equal(r.json().code, 'VALIDATION_FAILED')
  }
  t.equal((await post('/auth/login', '{"email":')).json().code, 'MALFORMED_BODY')
  const form = await post('/auth/login', `email=${encodeURIComponent(alice.email)}&password=${encodeURIComponent(alice.password)}`, {
    'content-type': 'application/x-www-form-urlencoded'
  })
  t.equal(form.status, 415, 'an HTML form (the classic CSRF vehicle) is not a login')
  t.equal(
    (await post('/auth/login', JSON.stringify({ email: alice.email, password: alice.password }), { 'content-type': 'text/plain' })).status,
    400,
    'text/plain is not JSON'
  )
  t.equal((await post('/auth/login', JSON.stringify({ email: alice.email, password: 'x'.repeat(1025) }))).status, 400, 'password over 1024 characters')
  const headers = await stack.identityHeaders(alice, { method: 'POST', uri: '/auth/password' })
  const pw = await stack.auth.inject({
    method: 'POST',
    url: '/auth/password',
    headers: { ...headers, 'content-type': 'application/json' },
    payload: JSON.stringify({ currentPassword: 'x'.repeat(17 * 1024), newPassword: 'y' })
  })
  t.equal(pw.statusCode, 413)
  t.equal((await post('/auth/login', JSON.stringify({ email: alice.email, password: alice.password }))).status, 200, 'the account still works')
})

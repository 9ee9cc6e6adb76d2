import t0, { test } from 'tap'
import { call, ORIGIN, revocationEvents, startTestStack, waitFor } from './helpers.js'

const IDLE = 3600
const stack = await startTestStack(t0, { auth: { AUTH_SESSION_IDLE_SECONDS: IDLE, AUTH_MAX_SESSIONS_PER_USER: 3 } })

const refresh = (refreshToken: string) => call(`${stack.authUrl}/auth/refresh`, { method: 'POST', json: { refreshToken } })
const session = async (id: string) =>
  (await stack.auth.pg.query('SELECT expires_at, last_used_at, revoked_at, revoked_reason FROM auth.sessions WHERE id = $1', [id])).rows[0]

test('refresh never moves the absolute end of a session, and fails after it', async (t) => {
  const u = await stack.createUser()
  const before = await session(u.sessionId)
  const days = (before.expires_at.getTime() - Date.now()) / 86_400_000
  t.ok(days > 29.9 && days <= 30, 'thirty days by default')
  let token = u.refreshToken
  for (let i = 0; i < 3; i++) {
    const r = await refresh(token)
    t.equal(r.status, 200)
    token = r.json().refreshToken
  }
  t.same((await session(u.sessionId)).expires_at, before.expires_at, 'three refreshes later: same end')
  await stack.auth.pg.query("UPDATE auth.sessions SET expires_at = now() - interval '1 second' WHERE id = $1", [u.sessionId])
  const late = await refresh(token)
  t.equal(late.status, 401, 'past its end the session cannot be refreshed')
  t.match(late.json().detail, /maximum lifetime/)
})

test('an idle session ends; a refresh cannot revive it', async (t) => {
  const u = await stack.createUser()
  const ok = await refresh(u.refreshToken)
  t.equal(ok.status, 200, 'in use: refresh works and counts as use')
  const used = await session(u.sessionId)
  t.ok(Date.now() - used.last_used_at.getTime() < 60_000, 'last use recorded')
  await stack.auth.pg.query('UPDATE auth.sessions SET last_used_at = now() - make_interval(secs => $2) WHERE id = $1', [u.sessionId, IDLE + 1])
  const idle = await refresh(ok.json().refreshToken)
  t.equal(idle.status, 401, 'idle longer than the timeout: refused')
  t.match(idle.json().detail, /without use/)
  t.ok((await session(u.sessionId)).last_used_at.getTime() < Date.now() - IDLE * 1000, 'and the refused refresh did not count as use')
  // The account routes and the sessions list no longer count it either.
  const other = await call(`${stack.authUrl}/auth/login`, { method: 'POST', headers: { origin: ORIGIN }, json: { email: u.email, password: u.password } })
  const headers = await stack.identityHeaders({ accessToken: other.json().accessToken }, { uri: '/auth/sessions' })
  const list = await stack.auth.inject({ url: '/auth/sessions', headers })
  t.same(
    list.json().sessions.map((s: { id: string }) => s.id),
    [other.json().sessionId],
    'the idle session is gone from the list'
  )
})

test('at most AUTH_MAX_SESSIONS_PER_USER sessions: the least recently used one ends, announced and audited', async (t) => {
  const { events } = await revocationEvents(stack, t)
  const u = await stack.createUser()
  const logins = []
  for (let i = 0; i < 3; i++) {
    logins.push(await call(`${stack.authUrl}/auth/login`, { method: 'POST', json: { email: u.email, password: u.password } }))
  }
  t.ok(logins.every((r) => r.status === 200))
  t.ok(await waitFor(() => events.some((e) => e.userId === u.userId)), 'the fourth session evicted the first')
  const ev = events.find((e) => e.userId === u.userId)!
  t.same(ev, { userId: u.userId, sessionIds: [u.sessionId], reason: 'session-limit', at: ev.at })
  t.match(await session(u.sessionId), { revoked_reason: 'session-limit' })
  const live = await stack.auth.pg.query('SELECT count(*)::int AS n FROM auth.sessions WHERE user_id = $1 AND revoked_at IS NULL', [u.userId])
  t.equal(live.rows[0].n, 3)
  const audit = await stack.auth.pg.query("SELECT user_id, session_id, details FROM auth.audit_log WHERE event = 'session.evicted' AND user_id = $1", [
    u.userId
  ])
  t.same(audit.rows, [{ user_id: u.userId, session_id: u.sessionId, details: { by: logins[2]!.json().sessionId } }], 'audited')
  t.equal((await refresh(u.refreshToken)).status, 401, 'the evicted session cannot refresh')
})

// Browser tabs share one refresh cookie and refresh at the same instant: inside the grace window a
// rotated token answers with its (one) successor; outside it, or once that successor was used,
// reuse still revokes the whole family.
import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import type { TestUser } from '@palisade/testkit'
import { newRefreshToken, openSuccessor, sealSuccessor, sha256 } from '../src/lib/refresh-token.js'
import { call, forwarded, ORIGIN, revocationEvents, verifyAt, waitFor, type Answer, startTestStack, type TestStack } from './helpers.js'

const cookieOf = (a: Answer, name: string) =>
  a.headers
    .getSetCookie()
    .find((c) => c.startsWith(`${name}=`))
    ?.split(';')[0]!
    .slice(name.length + 1)

/** A browser tab (the refresh cookie, with Origin) or an API client (the token in the body). */
function refreshAt(url: string, token: string, via: 'cookie' | 'body'): Promise<Answer> {
  return via === 'cookie'
    ? call(`${url}/auth/refresh`, { method: 'POST', headers: { cookie: `palisade_refresh=${token}`, origin: ORIGIN } })
    : call(`${url}/auth/refresh`, { method: 'POST', json: { refreshToken: token } })
}

/** The refresh token a client holds after this answer: the cookie for a tab, the body for an API client. */
function newRefreshOf(a: Answer, via: 'cookie' | 'body'): string | undefined {
  return via === 'cookie' ? cookieOf(a, 'palisade_refresh') : a.json().refreshToken
}

async function accessWorks(stack: TestStack, accessToken: string): Promise<boolean> {
  const r = await verifyAt(stack.auth, forwarded('GET', '/api/chat/x', { cookie: `palisade_access=${accessToken}` }))
  return r.status === 200
}

const family = (stack: TestStack, sessionId: string) =>
  stack.auth.pg.query<{ id: string; parent_id: string | null; token_hash: string; used_at: Date | null; successor_box: string | null }>(
    'SELECT id, parent_id, token_hash, used_at, successor_box FROM auth.refresh_tokens WHERE session_id = $1 ORDER BY created_at',
    [sessionId]
  )
const sessionRow = async (stack: TestStack, sessionId: string) =>
  (
    await stack.auth.pg.query<{ revoked_at: Date | null; revoked_reason: string | null }>(
      'SELECT revoked_at, revoked_reason FROM auth.sessions WHERE id = $1',
      [sessionId]
    )
  ).rows[0]!
const auditCount = async (stack: TestStack, event: string, sessionId: string) =>
  (await stack.auth.pg.query('SELECT 1 FROM auth.audit_log WHERE event = $1 AND session_id = $2', [event, sessionId])).rowCount

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('parallel refreshes with one token: every client gets the same successor and the session lives (2, 3 and 5 at once)', async (t) => {
  const stack = await startTestStack(t)
  const { events, nc } = await revocationEvents(stack, t)
  const rounds = 3

  for (const n of [2, 3, 5]) {
    const user: TestUser = await stack.createUser()
    let token = user.refreshToken
    for (let round = 0; round < rounds; round++) {
      // n tabs (and API clients) whose leases end together, all on the wire at once.
      const vias = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'cookie' : 'body') as const)
      const answers = await Promise.all(vias.map((via) => refreshAt(stack.authUrl, token, via)))
      t.same(
        answers.map((a) => a.status),
        vias.map(() => 200),
        `${n} at once, round ${round + 1}: every one is 200 (${answers.map((a) => (a.status === 200 ? 200 : a.json().code)).join(', ')})`
      )
      if (answers.some((a) => a.status !== 200)) return
      const successors = new Set(answers.map((a, i) => newRefreshOf(a, vias[i]!)))
      t.equal(successors.size, 1, 'they all hold the same refresh token now')
      const [successor] = [...successors]
      t.match(successor, /^[A-Za-z0-9_-]{43}$/)
      t.not(successor, token, 'rotated')
      for (const [i, a] of answers.entries()) {
        t.equal(a.json().sessionId, user.sessionId, 'same family')
        if (vias[i] === 'cookie') t.equal(cookieOf(a, 'palisade_access'), a.json().accessToken, 'the access cookie is set')
        t.ok(await accessWorks(stack, a.json().accessToken), 'and its access token works')
      }
      token = successor!
    }
    const rows = (await family(stack, user.sessionId)).rows
    t.equal(rows.length, rounds + 1, 'one successor per rotation: the family is a chain, not a tree')
    t.equal(new Set(rows.map((r) => r.parent_id)).size, rows.length, 'no token has two children')
    t.equal((await sessionRow(stack, user.sessionId)).revoked_at, null, 'the session was not revoked')
    t.equal(await auditCount(stack, 'refresh.grace', user.sessionId), (n - 1) * rounds, 'each parallel duplicate is audited')
    t.equal(await auditCount(stack, 'refresh.reused', user.sessionId), 0)
    t.equal((await refreshAt(stack.authUrl, token, 'cookie')).status, 200, 'the shared successor keeps working')
  }
  await nc.flush()
  await sleep(50)
  t.same(events, [], 'no revocation was announced')
})

test('a rotated token presented after the grace window revokes the family and is audited', async (t) => {
  const stack = await startTestStack(t)
  const { events } = await revocationEvents(stack, t)
  // A one-second window on a second instance (same database), instead of sleeping through ten.
  const short = await stack.startAuth({ AUTH_REFRESH_GRACE_SECONDS: 1 })
  const alice = await stack.createUser()

  const r1 = await refreshAt(short.url, alice.refreshToken, 'cookie')
  t.equal(r1.status, 200)
  const rt1 = cookieOf(r1, 'palisade_refresh')!
  const at1 = r1.json().accessToken as string
  await sleep(1300)

  const reuse = await refreshAt(short.url, alice.refreshToken, 'cookie')
  t.equal(reuse.status, 401)
  t.equal(reuse.json().code, 'REFRESH_TOKEN_REUSED')
  t.ok(cookieOf(reuse, 'palisade_refresh') === '', 'the browser is told to drop its cookies')
  t.equal((await refreshAt(short.url, rt1, 'body')).status, 401, 'the successor is dead too')
  t.notOk(await accessWorks(stack, at1), 'and so is its access token')
  t.match(await sessionRow(stack, alice.sessionId), { revoked_reason: 'refresh-reuse' })
  t.ok(await waitFor(() => events.length >= 1), 'revocation announced')
  t.match(events[0], { userId: alice.userId, sessionIds: [alice.sessionId], reason: 'refresh-reuse' })
  t.equal(await auditCount(stack, 'refresh.reused', alice.sessionId), 1, 'audited')
  t.same(
    (await family(stack, alice.sessionId)).rows.map((r) => r.successor_box),
    [null, null],
    'no sealed successor is left in a revoked family'
  )
})

test('a thief replaying a rotated token inside the window gets no token of their own', async (t) => {
  const stack = await startTestStack(t)
  const short = await stack.startAuth({ AUTH_REFRESH_GRACE_SECONDS: 1 })

  await t.test('the thief gets the owner’s successor, so the second user of it is caught', async (t) => {
    const owner = await stack.createUser()
    const o1 = await refreshAt(stack.authUrl, owner.refreshToken, 'cookie')
    const rt1 = cookieOf(o1, 'palisade_refresh')!
    const thief = await refreshAt(stack.authUrl, owner.refreshToken, 'body')
    t.equal(thief.status, 200, 'inside the window the replay looks like a parallel tab')
    t.equal(thief.json().refreshToken, rt1, 'but yields the very token the owner holds, not a new branch')
    const o2 = await refreshAt(stack.authUrl, rt1, 'cookie')
    t.equal(o2.status, 200, 'the owner rotates on')
    await sleep(1300)
    const late = await refreshAt(short.url, rt1, 'body')
    t.equal(late.json().code, 'REFRESH_TOKEN_REUSED', 'the thief’s copy, used after the window, revokes the family')
    t.equal((await refreshAt(stack.authUrl, cookieOf(o2, 'palisade_refresh')!, 'cookie')).status, 401, 'the owner’s newest token is dead')
  })

  await t.test('inside the window, a token whose successor was already used is reuse', async (t) => {
    const owner = await stack.createUser()
    const rt1 = cookieOf(await refreshAt(stack.authUrl, owner.refreshToken, 'cookie'), 'palisade_refresh')!
    const rt2 = cookieOf(await refreshAt(stack.authUrl, rt1, 'cookie'), 'palisade_refresh')!
    const replay = await refreshAt(stack.authUrl, owner.refreshToken, 'body')
    t.equal(replay.status, 401)
    t.equal(replay.json().code, 'REFRESH_TOKEN_REUSED')
    t.equal((await refreshAt(stack.authUrl, rt2, 'cookie')).status, 401, 'the family is revoked')
  })

  await t.test('inside the window, a token of a session signed out meanwhile gets nothing', async (t) => {
    const owner = await stack.createUser()
    const r1 = await refreshAt(stack.authUrl, owner.refreshToken, 'cookie')
    const logout = await call(`${stack.authUrl}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${r1.json().accessToken}` } })
    t.equal(logout.status, 204)
    const replay = await refreshAt(stack.authUrl, owner.refreshToken, 'body')
    t.equal(replay.status, 401)
    t.notOk(replay.json().refreshToken)
  })

  await t.test('the sealed successor is not readable from the database and is wiped after the window', async (t) => {
    const owner = await stack.createUser()
    const rt1 = cookieOf(await refreshAt(stack.authUrl, owner.refreshToken, 'cookie'), 'palisade_refresh')!
    const [root] = (await family(stack, owner.sessionId)).rows
    t.equal(root!.token_hash, sha256(owner.refreshToken))
    t.ok(root!.successor_box, 'sealed while the window is open')
    t.notMatch(root!.successor_box!, rt1)
    t.equal(openSuccessor(owner.refreshToken, root!.id, root!.successor_box!), rt1, 'the rotated token opens it')
    t.equal(openSuccessor(root!.token_hash, root!.id, root!.successor_box!), undefined, 'what the table holds does not')
    await sleep(1300)
    // Any later rotation sweeps boxes whose window has passed.
    const other = await stack.createUser()
    t.equal((await refreshAt(short.url, other.refreshToken, 'body')).status, 200)
    t.equal((await family(stack, owner.sessionId)).rows[0]!.successor_box, null, 'wiped')
  })

  await t.test('with the window set to 0 a parallel duplicate revokes, as before', async (t) => {
    const none = await stack.startAuth({ AUTH_REFRESH_GRACE_SECONDS: 0 })
    const owner = await stack.createUser()
    t.equal((await refreshAt(none.url, owner.refreshToken, 'cookie')).status, 200)
    t.equal((await family(stack, owner.sessionId)).rows[0]!.successor_box, null, 'nothing is sealed')
    t.equal((await refreshAt(none.url, owner.refreshToken, 'cookie')).json().code, 'REFRESH_TOKEN_REUSED')
  })
})

test('a rotation and a grace answer queued on one family do not deadlock', async (t) => {
  const stack = await startTestStack(t)
  const owner = await stack.createUser()
  const rt1 = cookieOf(await refreshAt(stack.authUrl, owner.refreshToken, 'cookie'), 'palisade_refresh')!
  // Hold the session row so both requests queue up behind it: the tab rotating rt1 first, then a
  // late tab still sending the root token. Locking the token row before the session would let the
  // late tab hold a row the rotation has to touch, and PostgreSQL would abort one of them.
  const blocker = await stack.auth.pg.connect()
  t.teardown(() => blocker.release())
  await blocker.query('BEGIN')
  await blocker.query('SELECT 1 FROM auth.sessions WHERE id = $1 FOR UPDATE', [owner.sessionId])
  const waiting = () =>
    stack.auth.pg.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
  const rotation = refreshAt(stack.authUrl, rt1, 'cookie')
  t.ok(await waitFor(async () => (await waiting()).rows[0]!.n >= 1), 'the rotation waits')
  const late = refreshAt(stack.authUrl, owner.refreshToken, 'body')
  t.ok(await waitFor(async () => (await waiting()).rows[0]!.n >= 2), 'and so does the late tab')
  await blocker.query('COMMIT')
  const [r, l] = await Promise.all([rotation, late])
  t.equal(r.status, 200, 'the rotation goes through')
  t.equal(l.json().code, 'REFRESH_TOKEN_REUSED', 'the late tab finds rt1 used, so its root token is stale: reuse, not a 500')
})

test('successor boxes open only with their own token and row', async (t) => {
  const token = newRefreshToken()
  const successor = newRefreshToken()
  const row = randomUUID()
  const box = sealSuccessor(token, row, successor)
  t.equal(openSuccessor(token, row, box), successor)
  t.not(sealSuccessor(token, row, successor), box, 'a fresh IV each time')
  t.equal(openSuccessor(newRefreshToken(), row, box), undefined, 'another token')
  t.equal(openSuccessor(token, randomUUID(), box), undefined, 'another row')
  const [v, iv, body, tag] = box.split('.') as [string, string, string, string]
  const flipped = Buffer.from(body, 'base64url')
  flipped[0]! ^= 1
  t.equal(openSuccessor(token, row, [v, iv, flipped.toString('base64url'), tag].join('.')), undefined, 'a changed byte')
  t.equal(openSuccessor(token, row, [v, iv, body, tag.slice(0, 8)].join('.')), undefined, 'a shortened tag')
  t.equal(openSuccessor(token, row, 'garbage'), undefined)
  t.equal(openSuccessor(token, row, `v2.${iv}.${body}.${tag}`), undefined, 'an unknown version')
})

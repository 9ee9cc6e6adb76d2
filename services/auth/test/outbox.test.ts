import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import pg from 'pg'
import { connect, type Msg } from '@nats-io/transport-node'
import { AuthSessionRevoked, NATS_HEADERS, type SessionRevokedEvent } from '@palisade/contracts'
import { startServiceProcess } from '@palisade/testkit'
import { call, forwarded, startTestStack, verifyAt } from './helpers.js'

t.test('a revocation committed by a process killed before publishing is announced by the next instance, once', async (t) => {
  const stack = await startTestStack(t)
  const alice = await stack.createUser()
  const db = new pg.Client({ connectionString: stack.databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  const nc = await connect({ servers: stack.natsUrl })
  t.teardown(() => nc.close())
  const received: Array<{ event: SessionRevokedEvent; id: string | undefined }> = []
  nc.subscribe(AuthSessionRevoked.subject, {
    callback: (_err, msg: Msg) => received.push({ event: msg.json<SessionRevokedEvent>(), id: msg.headers?.get(NATS_HEADERS.eventId) })
  })
  await nc.flush()

  // The only auth instance left is the one with the fault hook: no other relay may publish the row.
  await stack.auth.close()
  const env: Record<string, string> = { AUTH_CRASH_AT_COMMIT: '1' }
  for (const [name, value] of Object.entries(stack.authConfig)) if (value !== undefined && name !== 'HOST' && name !== 'PORT') env[name] = String(value)
  const crashing = await startServiceProcess('auth', env, { script: 'test/fixtures/crash-after-commit.ts' })
  t.teardown(() => crashing.stop())

  const exited = once(crashing.child, 'exit')
  const logout = await call(`${crashing.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${alice.accessToken}` } }).then(
    (r) => r.status,
    (err: Error) => err.name
  )
  t.equal(logout, 'TypeError', 'the logout dies with the process (no answer)')
  const [, signal] = await exited
  t.equal(signal, 'SIGKILL', 'killed at the hook')

  const session = await db.query<{ revoked_reason: string }>('SELECT revoked_reason FROM auth.sessions WHERE id = $1', [alice.sessionId])
  t.equal(session.rows[0]?.revoked_reason, 'logout', 'the revocation was committed')
  t.equal((await db.query('SELECT 1 FROM auth.outbox')).rowCount, 1, 'its event waits in the outbox')
  await sleep(500)
  t.same(received, [], 'nothing was published before the kill')

  const next = await stack.startAuth()
  while (received.length === 0) await sleep(20)
  // Time for any duplicate to arrive.
  await sleep(1500)
  t.equal(received.length, 1, 'announced exactly once')
  t.match(received[0], { event: { userId: alice.userId, sessionIds: [alice.sessionId], reason: 'logout' }, id: /^[0-9a-f-]{36}$/ }, 'with its event id')
  t.equal((await db.query('SELECT 1 FROM auth.outbox')).rowCount, 0, 'the outbox is empty')
  const verify = await verifyAt(next.app, forwarded('GET', '/api/chat/conversations', { authorization: `Bearer ${alice.accessToken}` }))
  t.equal(verify.status, 401, 'the session stays revoked')
})

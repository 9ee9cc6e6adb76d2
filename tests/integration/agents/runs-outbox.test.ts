import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import pg from 'pg'
import { connect, type Msg } from '@nats-io/transport-node'
import { NATS_HEADERS } from '@palisade/contracts'
import { buildService, startServiceProcess } from '@palisade/testkit'
import agentsApp from '@palisade/agents'
import { startAgents, type Tap } from './helpers/stack.js'

type Received = Array<{ event: { type: string; runId?: string; reason?: string }; id: string | undefined }>

/** Alice's agent in a conversation with Bob, and a database client. */
async function runsWithBob(t: Tap) {
  const h = await startAgents(t)
  const [alice, bob] = [await h.user(), await h.user()]
  const conv = await h.conversation(alice, [bob])
  const agent = await h.createAgent(alice)
  const db = new pg.Client({ connectionString: h.stack.databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  return { h, alice, bob, conv, agent, db }
}

/** Every event NATS carries to `userId` from now on, with its event id. */
async function eventsOf(t: Tap, natsUrl: string, userId: string): Promise<Received> {
  const nc = await connect({ servers: natsUrl })
  t.teardown(() => nc.close())
  const received: Received = []
  nc.subscribe(`events.user.${userId}`, { callback: (_err, msg: Msg) => received.push({ event: msg.json(), id: msg.headers?.get(NATS_HEADERS.eventId) }) })
  await nc.flush()
  return received
}

t.test("a run's end committed by a process killed before publishing is announced by the next instance, once", async (t) => {
  const { h, alice, bob, conv, agent, db } = await runsWithBob(t)
  const received = await eventsOf(t, h.stack.natsUrl, bob.userId)

  // The only agents instance left is the one with the fault hook: no other relay may publish the row.
  await h.agents.close()
  const env: Record<string, string> = { AGENTS_CRASH_AT_COMMIT: '1' }
  for (const [name, value] of Object.entries(h.config)) if (value !== undefined && name !== 'HOST' && name !== 'PORT') env[name] = String(value)
  const crashing = await startServiceProcess('agents', env, { script: 'test/fixtures/crash-after-commit.ts' })
  t.teardown(() => crashing.stop())

  const exited = once(crashing.child, 'exit')
  const uri = `/api/agents/${agent.id}/runs`
  const headers = await h.stack.identityHeaders(alice, { method: 'POST', uri })
  const started = await fetch(`${crashing.url}${uri}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ conversationId: conv, input: 'survive the crash' })
  })
  t.equal(started.status, 202)
  const { id: runId } = (await started.json()) as { id: string }
  const [, signal] = await exited
  t.equal(signal, 'SIGKILL', 'killed at the hook, right after the run ended')

  const run = await db.query<{ status: string }>('SELECT status FROM agents.runs WHERE id = $1', [runId])
  t.equal(run.rows[0]?.status, 'completed', "the run's end was committed")
  t.equal((await db.query('SELECT 1 FROM agents.outbox')).rowCount, 1, 'its event waits in the outbox')
  await sleep(500)
  t.notOk(
    received.some((e) => e.event.type === 'agent.run.completed'),
    'the end was not published before the kill'
  )
  t.ok(
    received.some((e) => e.event.type === 'agent.run.delta'),
    'the stream itself went out directly'
  )

  await buildService(t, agentsApp, h.config, { service: 'agents' })
  while (!received.some((e) => e.event.type === 'agent.run.completed')) await sleep(20)
  // Time for any duplicate to arrive.
  await sleep(1500)
  const ends = received.filter((e) => e.event.type === 'agent.run.completed')
  t.equal(ends.length, 1, 'announced exactly once')
  t.match(ends[0]!.id, /^[0-9a-f-]{36}$/, 'with its event id')
  t.equal((await db.query('SELECT 1 FROM agents.outbox')).rowCount, 0, 'the outbox is empty')
})

t.test('an orphaned run ended by a sweep that dies after its commit is announced by the next instance, once', async (t) => {
  const { h, alice, bob, conv, agent, db } = await runsWithBob(t)
  // The in-process instance stops before the orphan exists: its own sweeper must not end it first.
  await h.agents.close()
  const orphan = randomUUID()
  await db.query(
    `INSERT INTO agents.runs (id, agent_id, user_id, session_id, conversation_id, status, input, provider, model, limits, usage, heartbeat_at)
     VALUES ($1, $2, $3, $4, $5, 'running', 'x', 'local', 'echo', '{"maxSteps":1,"maxToolCalls":0,"callTimeoutMs":1000,"runTimeoutMs":1000,"maxOutputTokens":10}',
             '{"inputTokens":0,"outputTokens":0,"modelCalls":0,"toolCalls":0}', now() - interval '1 hour')`,
    [orphan, agent.id, alice.userId, alice.sessionId, conv]
  )
  const received = await eventsOf(t, h.stack.natsUrl, bob.userId)

  // The instance with the fault hook dies right after the commit of the sweep that ends the orphan:
  // at start-up, or (when chat answered too slowly then) at a later sweep.
  const env: Record<string, string> = { AGENTS_CRASH_AT_COMMIT: '1', AGENTS_HEARTBEAT_MS: '500' }
  for (const [name, value] of Object.entries(h.config)) if (value !== undefined && name !== 'HOST' && name !== 'PORT') env[name] = String(value)
  const died = await startServiceProcess('agents', env, { script: 'test/fixtures/crash-after-commit.ts' }).then(
    async (p) => {
      t.teardown(() => p.stop())
      const [, signal] = await Promise.race([once(p.child, 'exit'), sleep(60_000).then(() => [null, 'still running'])])
      return `signal ${signal}`
    },
    (err: Error) => err.message
  )
  t.match(died, /exited with null|signal SIGKILL/, `killed by the hook (${died.slice(0, 120)})`)

  const run = await db.query<{ status: string; failure_reason: string }>('SELECT status, failure_reason FROM agents.runs WHERE id = $1', [orphan])
  t.same(run.rows[0], { status: 'failed', failure_reason: 'interrupted' }, 'the sweep committed the end')
  t.equal((await db.query('SELECT 1 FROM agents.outbox')).rowCount, 1, 'its event waits in the outbox')
  t.same(received, [], 'nothing was published before the kill')

  await buildService(t, agentsApp, h.config, { service: 'agents' })
  while (received.length === 0) await sleep(20)
  await sleep(1500)
  t.equal(received.length, 1, 'announced exactly once')
  t.match(received[0], { event: { type: 'agent.run.failed', runId: orphan, reason: 'interrupted' }, id: /^[0-9a-f-]{36}$/ })
})

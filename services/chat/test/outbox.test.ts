import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import pg from 'pg'
import { connect, type Msg } from '@nats-io/transport-node'
import { NATS_HEADERS } from '@palisade/contracts'
import { buildService, startServiceProcess, startTestStack, type TestStack, type TestUser } from '@palisade/testkit'
import chatApp, { type ChatAppConfig } from '../src/app.js'

function envOf(config: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(config).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])))
}

async function post(stack: TestStack, base: string, user: TestUser, uri: string, body: unknown): Promise<Response> {
  const headers = await stack.identityHeaders(user, { method: 'POST', uri })
  return fetch(`${base}${uri}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) })
}

t.test('an event committed by a process killed before publishing is relayed by the next instance, once', async (t) => {
  const stack = await startTestStack(t)
  const [alice, bob] = [await stack.createUser(), await stack.createUser()]
  const db = new pg.Client({ connectionString: stack.databaseUrl })
  await db.connect()
  t.teardown(() => db.end())

  const nc = await connect({ servers: stack.natsUrl })
  t.teardown(() => nc.close())
  const received: Array<{ type: string; id: string | undefined }> = []
  nc.subscribe(`events.user.${bob.userId}`, {
    callback: (_err, msg: Msg) => received.push({ type: msg.json<{ type: string }>().type, id: msg.headers?.get(NATS_HEADERS.eventId) })
  })
  await nc.flush()

  // The first transaction with events (the conversation) goes through; the second kills the process.
  const crashing = await startServiceProcess('chat', { ...envOf(stack.config()), CHAT_CRASH_AT_COMMIT: '2' }, { script: 'test/fixtures/crash-after-commit.ts' })
  t.teardown(() => crashing.stop())
  const created = await post(stack, crashing.url, alice, '/api/chat/conversations', { title: 'outbox', memberIds: [bob.userId] })
  t.equal(created.status, 201)
  const { id: conversationId } = (await created.json()) as { id: string }
  while (!received.some((e) => e.type === 'conversation.created')) await sleep(20)

  const exited = once(crashing.child, 'exit')
  const sent = await post(stack, crashing.url, alice, `/api/chat/conversations/${conversationId}/messages`, { text: 'survives', clientMessageId: 'c1' }).then(
    (r) => r.status,
    (err: Error) => err.name
  )
  t.equal(sent, 'TypeError', 'the request dies with the process (no answer)')
  const [, signal] = await exited
  t.equal(signal, 'SIGKILL', 'killed at the hook')

  const stored = await db.query('SELECT text FROM chat.messages WHERE conversation_id = $1', [conversationId])
  t.same(
    stored.rows.map((r) => r.text),
    ['survives'],
    'the message was committed'
  )
  t.equal((await db.query('SELECT 1 FROM chat.outbox')).rowCount, 1, 'its event waits in the outbox')
  await sleep(500)
  t.notOk(
    received.some((e) => e.type === 'message.created'),
    'nothing was published before the kill'
  )

  const next = await buildService(t, chatApp, stack.config() as ChatAppConfig)
  t.ok(next.outbox, 'a new instance starts its relay')
  while (!received.some((e) => e.type === 'message.created')) await sleep(20)
  // Time for any duplicate to arrive.
  await sleep(1500)
  const deliveries = received.filter((e) => e.type === 'message.created')
  t.equal(deliveries.length, 1, 'delivered exactly once')
  t.match(deliveries[0]!.id, /^[0-9a-f-]{36}$/, 'with its event id')
  t.equal((await db.query('SELECT 1 FROM chat.outbox')).rowCount, 0, 'the outbox is empty')
})

t.test('several relays drain one outbox without publishing a row twice', async (t) => {
  const stack = await startTestStack(t)
  const [alice, bob] = [await stack.createUser(), await stack.createUser()]
  const apps = [
    await buildService(t, chatApp, stack.config() as ChatAppConfig),
    await buildService(t, chatApp, stack.config() as ChatAppConfig),
    await buildService(t, chatApp, stack.config() as ChatAppConfig)
  ]
  const nc = await connect({ servers: stack.natsUrl })
  t.teardown(() => nc.close())
  const ids: string[] = []
  nc.subscribe(`events.user.${bob.userId}`, { callback: (_err, msg) => ids.push(msg.headers?.get(NATS_HEADERS.eventId) ?? '') })
  await nc.flush()

  const as = async (i: number, method: 'POST', url: string, body: unknown) =>
    apps[i % apps.length]!.inject({ method, url, headers: await stack.identityHeaders(alice, { method, uri: url }), payload: body as object })
  const conv = (await as(0, 'POST', '/api/chat/conversations', { title: 'many relays', memberIds: [bob.userId] })).json<{ id: string }>()
  const n = 60
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) => as(i, 'POST', `/api/chat/conversations/${conv.id}/messages`, { text: `m${i}`, clientMessageId: `m${i}` }))
  )
  t.ok(
    results.every((r) => r.statusCode === 201),
    'all sent'
  )
  while (ids.length < n + 1) await sleep(20)
  await sleep(1000)
  t.equal(ids.length, n + 1, 'every event once')
  t.equal(new Set(ids).size, n + 1, 'no id twice')
})

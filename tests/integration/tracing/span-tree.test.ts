import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import { connect } from '@nats-io/transport-node'
import { AuthSessionRevoked } from '@palisade/contracts'
import { initTracing, natsPublish, SERVICE_ATTRIBUTE, tracer } from '@palisade/platform'
import { captureLogs, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@palisade/platform/testing'
import { baseUrl, buildService } from '@palisade/testkit'
import chatApp, { type ChatAppConfig } from '@palisade/chat'
import gatewayApp, { type GatewayAppConfig } from '@palisade/gateway'
import { createEdge } from '@palisade/scripts/edge'
import { startTestStack } from '../helpers/stack.js'

// Before anything makes a span: this process's provider keeps every span in memory.
const exporter = new InMemorySpanExporter()
initTracing({ service: 'test', processors: [new SimpleSpanProcessor(exporter)] })

t.test('one request through the edge is one trace: edge, verify, handler, NATS, queries, outbox relay, socket delivery', async (t) => {
  const stack = await startTestStack(t)
  const logs = captureLogs()
  const chat = await buildService(t, chatApp, stack.config({ LOG_LEVEL: 'info' }) as ChatAppConfig, { listen: true, logStream: logs.stream, service: 'chat' })
  const edge = createEdge({ upstreams: { auth: stack.authUrl, chat: baseUrl(chat) }, authVerifyUrl: `${stack.authUrl}/auth/verify` })
  const port = await edge.listen(0)
  t.teardown(() => edge.close())
  const [alice, bob] = [await stack.createUser(), await stack.createUser()]
  // Bob has a socket: the conversation.created event reaches it through chat's outbox and a gateway.
  const gateway = await buildService(t, gatewayApp, stack.config() as GatewayAppConfig, { listen: true, service: 'gateway' })
  const socket = new WebSocket(`${baseUrl(gateway).replace('http', 'ws')}/ws`, { headers: await stack.identityHeaders(bob, { method: 'GET', uri: '/ws' }) })
  t.teardown(() => socket.terminate())
  const frames: Array<{ type: string }> = []
  socket.on('message', (data) => frames.push(JSON.parse(data.toString())))
  while (!frames.some((f) => f.type === 'hello')) await sleep(20)

  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
  const clientSpan = '00f067aa0ba902b7'
  exporter.reset()
  const res = await fetch(`http://127.0.0.1:${port}/api/chat/conversations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice.accessToken}`, 'content-type': 'application/json', traceparent: `00-${traceId}-${clientSpan}-01` },
    body: JSON.stringify({ title: 'traced', memberIds: [bob.userId] })
  })
  t.equal(res.status, 201)
  const ofTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId)
  const done = (s: ReadableSpan[]) => s.some((x) => x.name.startsWith('edge ')) && s.some((x) => x.name.startsWith('ws.deliver '))
  for (let i = 0; i < 100 && !done(ofTrace()); i++) await sleep(50)

  const spans = ofTrace()
  const one = (name: string, service?: string) => {
    const found = spans.filter((s) => s.name === name && (service === undefined || s.attributes[SERVICE_ATTRIBUTE] === service))
    t.equal(found.length, 1, `one span ${name}`)
    return found[0]!
  }
  const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId
  const edgeSpan = one('edge POST /api/chat/*', 'edge')
  t.equal(parentOf(edgeSpan), clientSpan, "the edge continues the client's traceparent")
  const verify = one('GET /auth/verify', 'auth')
  t.equal(parentOf(verify), edgeSpan.spanContext().spanId, "auth's verify is the edge's child")
  const handler = one('POST /api/chat/conversations', 'chat')
  t.equal(parentOf(handler), edgeSpan.spanContext().spanId, "chat's handler is the edge's child")
  t.equal(handler.attributes['http.response.status_code'], 201)

  const lookup = spans.filter((s) => s.name.startsWith('nats.request '))
  t.ok(lookup.length >= 1, 'chat asked auth over NATS')
  for (const r of lookup) t.equal(parentOf(r), handler.spanContext().spanId, `${r.name} is the handler's child`)
  const served = spans.filter((s) => s.name.startsWith('nats.serve '))
  t.equal(served.length, lookup.length, 'each request was served in the same trace')
  for (const s of served)
    t.ok(
      lookup.some((r) => r.spanContext().spanId === parentOf(s)),
      `${s.name} continues its request (context in NATS headers)`
    )

  const queries = spans.filter((s) => s.name === 'pg.query')
  const chatQueries = queries.filter((q) => q.attributes[SERVICE_ATTRIBUTE] === 'chat')
  t.ok(
    chatQueries.some((q) => q.attributes['db.query.text'] && /INSERT INTO chat\.conversations/.test(String(q.attributes['db.query.text']))),
    "chat's insert is a span"
  )
  t.ok(
    chatQueries.every((q) => parentOf(q) === handler.spanContext().spanId),
    "chat's queries are the handler's children"
  )
  t.ok(
    queries.some((q) => q.attributes[SERVICE_ATTRIBUTE] === 'auth' && served.some((s) => s.spanContext().spanId === parentOf(q))),
    "auth's query for the lookup is a child of its NATS handler"
  )
  t.notOk(
    queries.some((q) => String(q.attributes['db.query.text']).includes(alice.email)),
    'statements only, never parameters'
  )

  // After the commit: the relay continues the transaction's trace, the gateway continues the relay's.
  const relay = one('outbox.relay chat', 'chat')
  t.equal(parentOf(relay), handler.spanContext().spanId, 'the outbox relay continues the trace of the transaction that wrote the event')
  t.equal(relay.attributes['messaging.system'], 'nats')
  const deliver = one('ws.deliver conversation.created', 'gateway')
  t.equal(parentOf(deliver), relay.spanContext().spanId, "the gateway's delivery continues the relay's publish (traceparent in NATS headers)")
  t.equal(deliver.attributes['palisade.ws.sockets'], 1, "to bob's one socket")
  for (let i = 0; i < 100 && !frames.some((f) => f.type === 'conversation.created'); i++) await sleep(20)
  t.ok(
    frames.some((f) => f.type === 'conversation.created'),
    'and the frame reached the socket'
  )
  t.notOk(
    spans.some(
      (s) =>
        s.name === 'pg.query' && /outbox/.test(String(s.attributes['db.query.text'])) && !/INSERT INTO chat\.outbox/.test(String(s.attributes['db.query.text']))
    ),
    "the relay's own queries are in no request's trace"
  )

  const traced = logs.lines.map((l) => JSON.parse(l) as { trace_id?: string; msg?: string }).filter((l) => l.trace_id === traceId)
  t.ok(traced.length > 0, "chat's log lines of the request carry its trace_id")
  t.comment(traced.map((l) => l.msg).join(', '))
})

t.test('a NATS publish inside a trace is a span whose context travels in the headers', async (t) => {
  const stack = await startTestStack(t)
  const nc = await connect({ servers: stack.natsUrl })
  t.teardown(() => nc.close())
  const got = new Promise<string | undefined>((resolve) => {
    nc.subscribe(AuthSessionRevoked.subject, { max: 1, callback: (_err, msg) => resolve(msg.headers?.get('traceparent')) })
  })
  await nc.flush()
  exporter.reset()
  const parent = tracer().startActiveSpan('test parent', (span) => {
    natsPublish(nc, AuthSessionRevoked, { userId: crypto.randomUUID(), sessionIds: [crypto.randomUUID()], reason: 'logout', at: new Date().toISOString() })
    span.end()
    return span.spanContext()
  })
  const traceparent = await got
  const publish = exporter.getFinishedSpans().filter((s) => s.name === 'nats.publish auth.session.revoked')
  t.equal(publish.length, 1, 'one publish span')
  t.equal(publish[0]!.parentSpanContext?.spanId, parent.spanId, "a child of the publisher's span")
  t.equal(traceparent, `00-${parent.traceId}-${publish[0]!.spanContext().spanId}-01`, 'subscribers see the publish span as their parent')

  exporter.reset()
  natsPublish(nc, AuthSessionRevoked, { userId: crypto.randomUUID(), sessionIds: [crypto.randomUUID()], reason: 'logout', at: new Date().toISOString() })
  await nc.flush()
  t.same(
    exporter.getFinishedSpans().filter((s) => s.name.startsWith('nats.publish ')),
    [],
    'outside a trace a publish makes no span'
  )
})

import { test } from 'tap'
import pino from 'pino'
import { Type } from 'typebox'
import { headers } from '@nats-io/transport-node'
import { NATS_HEADERS, type NatsEndpoint } from '@palisade/contracts'
import { connectNats, natsRequest, natsServe, ProblemError, problems } from '../src/index.js'
import { startNatsServer } from '../src/testing/index.js'

const Echo = {
  subject: 'test.echo',
  request: Type.Object({ text: Type.String({ maxLength: 10 }) }, { additionalProperties: false }),
  response: Type.Object({ text: Type.String(), actingUser: Type.String() }, { additionalProperties: false }),
  owner: 'test',
  callers: ['test']
} satisfies NatsEndpoint

test('request/reply validates both ways and carries errors in NATS service headers', async (t) => {
  const server = await startNatsServer()
  t.teardown(() => server.stop())
  const nc = await connectNats({ url: server.url, name: 'test' })
  t.teardown(() => nc.close())
  natsServe(
    nc,
    Echo,
    async (p, ctx) => {
      if (p.text === 'missing') throw problems.notFound('no such thing')
      return { text: p.text, actingUser: ctx.userId ?? '' }
    },
    { log: pino({ level: 'silent' }) }
  )

  const ok = await natsRequest(nc, Echo, { text: 'hi' }, { userId: 'u1', requestId: 'r1' })
  t.same(ok, { text: 'hi', actingUser: 'u1' })

  const nf = await natsRequest(nc, Echo, { text: 'missing' }).catch((e) => e)
  t.ok(nf instanceof ProblemError)
  t.equal(nf.statusCode, 404)
  t.equal(nf.code, 'NOT_FOUND')

  // a raw client that bypasses the typed helper still gets a validation error, not a crash
  const raw = await nc.request('test.echo', JSON.stringify({ text: 'x', extra: true }), { timeout: 1000, headers: headers() })
  t.equal(raw.headers?.get(NATS_HEADERS.serviceErrorCode), '400')
  t.match(raw.headers?.get(NATS_HEADERS.serviceError), /payload invalid/)
  const garbage = await nc.request('test.echo', 'not json', { timeout: 1000 })
  t.equal(garbage.headers?.get(NATS_HEADERS.serviceErrorCode), '400')

  const noResponder = await natsRequest(nc, { ...Echo, subject: 'test.nobody' }, { text: 'x' }).catch((e) => e)
  t.equal(noResponder.statusCode, 503)

  // A responder that never answers: the request times out as a 504 (not an unknown error).
  nc.subscribe('test.silent', { callback: () => {} })
  await nc.flush()
  const silent = await natsRequest(nc, { ...Echo, subject: 'test.silent' }, { text: 'x' }, {}, 200).catch((e) => e)
  t.ok(silent instanceof ProblemError)
  t.equal(silent.statusCode, 504)
})

import t from 'tap'
import Fastify from 'fastify'
import { serverOptions } from '../src/index.js'
import { captureLogs } from '../src/testing/index.js'

t.test('request loggers are pino children: route levels, bindings and redaction', async (t) => {
  const logs = captureLogs()
  const app = Fastify(serverOptions({ service: 'chat', logLevel: 'info', logStream: logs.stream }))
  t.teardown(() => app.close())
  app.get('/quiet', { logLevel: 'warn' }, async (request) => {
    request.log.info('hidden by the route level')
    request.log.warn({ token: 'secret-token-value' }, 'route warning')
    return { ok: true }
  })
  app.get('/chatty', { logLevel: 'debug' }, async (request) => {
    t.ok(request.log.isLevelEnabled('debug'), 'the route level applies')
    request.log.debug({ password: 'hunter2hunter2' }, 'route debug')
    request.log.child({ step: 'inner' }).info('from a child')
    return { ok: true }
  })
  app.get('/same', { logLevel: 'info' }, async (request) => {
    t.equal(request.log.level, 'info', 'a route level equal to the service level changes nothing')
    request.log.info({ apiKey: 'k-secret-api-key' }, 'same level')
    return { ok: true }
  })
  app.get('/plain', async (request) => {
    t.notOk(request.log.isLevelEnabled('debug'), 'the service level applies')
    t.match((request.log as unknown as { bindings(): object }).bindings(), { reqId: 'reqplain' }, 'a pino child bound to the request id')
    request.log.debug('not at info')
    return { ok: true }
  })

  for (const url of ['/quiet', '/chatty', '/same', '/plain']) {
    const res = await app.inject({ url, headers: { 'x-request-id': `req${url.slice(1)}` } })
    t.equal(res.statusCode, 200)
  }
  const lines = logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
  const byMsg = (msg: string) => lines.filter((l) => l.msg === msg)

  t.same(byMsg('hidden by the route level'), [], 'below the route level: nothing')
  t.same(byMsg('not at info'), [])
  t.match(byMsg('route warning'), [{ reqId: 'reqquiet', service: 'chat', level: 40, token: '[redacted]' }], 'bindings and redaction as before')
  t.match(byMsg('route debug'), [{ reqId: 'reqchatty', level: 20, password: '[redacted]' }])
  t.match(byMsg('from a child'), [{ reqId: 'reqchatty', step: 'inner' }])
  t.match(byMsg('same level'), [{ reqId: 'reqsame', service: 'chat', level: 30, apiKey: '[redacted]' }])
  t.match(
    byMsg('incoming request'),
    [
      { reqId: 'reqchatty', req: { url: '/chatty' } },
      { reqId: 'reqsame', req: { url: '/same' } },
      { reqId: 'reqplain', req: { url: '/plain' } }
    ],
    "Fastify's own request lines honour the route level (none for the warn-level route)"
  )
  t.equal(byMsg('incoming request').length, 3)
  t.notMatch(logs.text(), /secret-token-value|hunter2|k-secret-api-key/)
})

t.test('share-link tokens in the path never reach a request log line', async (t) => {
  const logs = captureLogs()
  const app = Fastify(serverOptions({ service: 'files', logLevel: 'info', logStream: logs.stream }))
  t.teardown(() => app.close())
  // (Unrouted paths: the platform's not-found handler answers without logging the URL; fastify's
  // default one, absent here, would.)
  app.get('/s/:token', async () => ({ ok: true }))
  app.get('/api/files/shared/:token', async () => ({ ok: true }))
  const token = 'Zx9'.repeat(14).slice(0, 43)
  await app.inject({ url: `/s/${token}` })
  await app.inject({ url: `/api/files/shared/${token}?a=b` })
  t.notOk(logs.text().includes(token), 'the token is not logged')
  t.ok(logs.text().includes('/s/[redacted]'), 'the path is, redacted')
  t.ok(logs.text().includes('/api/files/shared/[redacted]'))
})

import { test } from 'tap'
import Fastify from 'fastify'
import { platformPlugin, securityHeaders, securityPlugin, serverOptions, identityOf } from '../src/index.js'
import { createTestDatabase, startNatsServer, testConfig } from '../src/testing/index.js'

async function build(t: Tap.Test) {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const nats = await startNatsServer()
  t.teardown(() => nats.stop())
  const app = Fastify(serverOptions({ service: 'chat', logLevel: 'silent' }))
  await app.register(platformPlugin, {
    service: 'chat',
    config: testConfig({ DATABASE_URL: db.url, NATS_URL: nats.url, ALLOWED_ORIGINS: 'https://chat.example' })
  })
  app.get('/private', async (req) => identityOf(req))
  await app.ready()
  t.teardown(() => app.close())
  return { app, nats }
}

test('health, readiness, request ids and security headers', async (t) => {
  const { app, nats } = await build(t)
  const health = await app.inject({ url: '/healthz' })
  t.equal(health.statusCode, 200)
  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json().checks, { database: 'ok', nats: 'ok' })

  const withId = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'edge-abc-123' } })
  t.equal(withId.headers['x-request-id'], 'edge-abc-123', 'a well-formed proxy request id is kept')
  const badId = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'evil\u0000id'.replace('\u0000', '%00') + '<script>' } })
  t.not(badId.headers['x-request-id'], 'evil%00id<script>', 'a malformed one is replaced')

  t.equal(health.headers['x-content-type-options'], 'nosniff')
  t.match(String(health.headers['content-security-policy']), /frame-ancestors 'none'/)
  t.match(String(health.headers['strict-transport-security']), /max-age=31536000/)

  const unauth = await app.inject({ url: '/private' })
  t.equal(unauth.statusCode, 401)
  t.equal(unauth.json().code, 'UNAUTHENTICATED')

  await nats.stop()
  const notReady = await app.inject({ url: '/readyz' })
  t.equal(notReady.statusCode, 503)
  t.equal(notReady.json().checks.nats, 'unavailable')
})

test('CORS answers only configured origins', async (t) => {
  const { app } = await build(t)
  const preflight = (origin: string) =>
    app.inject({ method: 'OPTIONS', url: '/private', headers: { origin, 'access-control-request-method': 'POST' } })
  const good = await preflight('https://chat.example')
  t.equal(good.headers['access-control-allow-origin'], 'https://chat.example')
  t.equal(good.headers['access-control-allow-credentials'], 'true')
  const evil = await preflight('https://evil.example')
  t.notOk(evil.headers['access-control-allow-origin'])
})

test('security headers: one precomputed set on every answer (404 and 500 too), a route may opt out; request timeout per service', async (t) => {
  const app = Fastify(serverOptions({ service: 'files', logLevel: 'silent', requestTimeoutMs: 600_000 }))
  await app.register(securityPlugin, { allowedOrigins: [] })
  app.get('/plain', async () => ({ ok: true }))
  app.get('/bare', { config: { helmet: false } }, async () => ({ ok: true }))
  app.get('/boom', async () => {
    throw new Error('internal')
  })
  await app.ready()
  t.teardown(() => app.close())
  t.equal(app.server.requestTimeout, 600_000, 'a service may allow slow request bodies (files uploads)')
  t.equal(Fastify(serverOptions({ service: 'chat', logLevel: 'silent' })).server.requestTimeout, 60_000, 'the default stays 60 s')

  const expected = securityHeaders()
  t.same(
    Object.keys(expected).sort(),
    ['content-security-policy', 'cross-origin-resource-policy', 'strict-transport-security', 'x-content-type-options', 'x-frame-options'],
    'the API set: nothing that only protects rendered documents or retired browsers'
  )
  t.equal(expected['content-security-policy'], "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'self'")
  t.equal(expected['x-frame-options'], 'DENY')
  t.equal(expected['x-content-type-options'], 'nosniff')
  t.notOk('x-powered-by' in expected)
  for (const url of ['/plain', '/missing', '/boom']) {
    const res = await app.inject({ url })
    for (const [name, value] of Object.entries(expected)) t.equal(res.headers[name], value, `${url}: ${name}`)
  }
  const bare = await app.inject({ url: '/bare' })
  t.equal(bare.statusCode, 200)
  for (const name of Object.keys(expected)) t.notOk(name in bare.headers, `opted out: no ${name}`)
})

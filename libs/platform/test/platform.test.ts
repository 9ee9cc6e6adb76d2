import { test } from 'tap'
import Fastify from 'fastify'
import { platformPlugin, serverOptions, identityOf } from '../src/index.js'
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

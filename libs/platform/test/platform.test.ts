import { test } from 'tap'
import Fastify from 'fastify'
import { platformPlugin, SECURITY_HEADERS, securityHeaders, securityPlugin, serverOptions, identityOf } from '../src/index.js'
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
  const badId = await app.inject({ url: '/healthz', headers: { 'x-request-id': `${'evil\u0000id'.replace('\u0000', '%00')}<script>` } })
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
  const preflight = (origin: string, extra: Record<string, string> = { 'access-control-request-method': 'POST' }) =>
    app.inject({ method: 'OPTIONS', url: '/private', headers: { origin, ...extra } })
  const good = await preflight('https://chat.example', { 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' })
  t.equal(good.statusCode, 204, 'an allowed preflight is answered without credentials')
  t.equal(good.headers['access-control-allow-origin'], 'https://chat.example')
  t.equal(good.headers['access-control-allow-credentials'], 'true')
  t.equal(good.headers['access-control-allow-methods'], 'GET, HEAD, POST, PUT, PATCH, DELETE')
  t.equal(good.headers['access-control-allow-headers'], 'content-type')
  t.equal(good.headers['access-control-max-age'], '600')
  t.equal(good.headers.vary, 'Origin, Access-Control-Request-Headers')
  t.equal(good.headers['content-length'], '0')

  const evil = await preflight('https://evil.example')
  t.equal(evil.statusCode, 404, 'a foreign origin gets no preflight answer')
  t.notOk(evil.headers['access-control-allow-origin'])
  t.notOk(evil.headers['access-control-allow-methods'])
  const lookalike = await preflight('https://chat.example.evil.example')
  t.notOk(lookalike.headers['access-control-allow-origin'], 'origins match exactly, not by prefix')
  const noOrigin = await app.inject({ method: 'OPTIONS', url: '/private', headers: { 'access-control-request-method': 'POST' } })
  t.equal(noOrigin.statusCode, 404)
  const notPreflight = await preflight('https://chat.example', {})
  t.equal(notPreflight.statusCode, 400, 'an OPTIONS without Access-Control-Request-Method is no preflight')
  t.equal(notPreflight.json().code, 'VALIDATION_FAILED')

  const plain = await app.inject({ url: '/healthz' })
  t.equal(plain.headers.vary, 'Origin', 'an answer without Origin still tells caches it depends on it')
  t.notOk(plain.headers['access-control-allow-origin'])
  t.notOk(plain.headers['access-control-allow-credentials'])
  const allowed = await app.inject({ url: '/healthz', headers: { origin: 'https://chat.example' } })
  t.equal(allowed.headers['access-control-allow-origin'], 'https://chat.example')
  t.equal(allowed.headers['access-control-allow-credentials'], 'true')
  t.notOk(allowed.headers['access-control-allow-methods'], 'preflight headers only on preflights')
  const foreign = await app.inject({ url: '/healthz', headers: { origin: 'https://evil.example' } })
  t.equal(foreign.statusCode, 200)
  t.notOk(foreign.headers['access-control-allow-origin'])
  t.notOk(foreign.headers['access-control-allow-credentials'], 'no credentials for a foreign origin')
  t.equal(foreign.headers.vary, 'Origin')

  const denied = await app.inject({ url: '/private', headers: { origin: 'https://chat.example' } })
  t.equal(denied.statusCode, 401)
  t.equal(denied.headers['access-control-allow-origin'], 'https://chat.example', 'the app on an allowed origin can read a 401')
  t.equal(denied.headers['x-content-type-options'], 'nosniff', 'a 401 carries the security headers')
  t.ok(denied.headers['x-request-id'], 'and the request id')
})

test('security headers: one precomputed set on every answer (404 and 500 too), a route may opt out; request timeout per service', async (t) => {
  const app = Fastify(serverOptions({ service: 'files', logLevel: 'silent', requestTimeoutMs: 600_000 }))
  await app.register(securityPlugin, { allowedOrigins: [] })
  app.get('/plain', async () => ({ ok: true }))
  app.get('/bare', { helmet: false }, async () => ({ ok: true }))
  app.get('/no-cors', { helmet: false, config: { cors: false } }, async () => ({ ok: true }))
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
  t.equal(bare.headers.vary, 'Origin', 'still CORS-aware')
  const noCors = await app.inject({ url: '/no-cors', headers: { origin: 'https://chat.example' } })
  t.equal(noCors.statusCode, 200)
  t.notOk('vary' in noCors.headers, 'cors: false: no Vary')
  t.notOk('access-control-allow-origin' in noCors.headers)
  t.ok(noCors.headers['x-request-id'], 'every answer has its request id')
})

test('one home for security headers: @fastify/helmet sends exactly the API set, the variants are data', async (t) => {
  const app = Fastify(serverOptions({ service: 'chat', logLevel: 'silent' }))
  await app.register(securityPlugin, { allowedOrigins: [] })
  app.get('/x', async () => ({ ok: true }))
  await app.ready()
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/x' })
  const notSecurity = /^(content-type|content-length|date|connection|keep-alive|vary|x-request-id|x-ratelimit-.*)$/
  const sent = Object.fromEntries(Object.entries(res.headers).filter(([name]) => !notSecurity.test(name)))
  t.same(sent, SECURITY_HEADERS.api, 'nothing more, nothing less than the API set')
  t.equal(securityHeaders(), SECURITY_HEADERS.api)
  t.equal(securityHeaders('fileContent')['content-security-policy'], "sandbox; default-src 'none'", 'stored files run sandboxed')
  t.equal(securityHeaders('fileContent')['x-content-type-options'], 'nosniff')
  t.match(securityHeaders('web')['content-security-policy'], /script-src 'self'/)
  for (const [variant, set] of Object.entries(SECURITY_HEADERS)) {
    t.ok(Object.isFrozen(set), `${variant} cannot be changed by a caller`)
    for (const name of Object.keys(set)) t.equal(name, name.toLowerCase(), `${variant}: ${name} is lower case`)
  }
})

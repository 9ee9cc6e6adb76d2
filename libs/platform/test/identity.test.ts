import { test } from 'tap'
import Fastify from 'fastify'
import jwt from 'jsonwebtoken'
import { randomUUID } from 'node:crypto'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { AuthSessionRevoked, IDENTITY_HEADERS } from '@palisade/contracts'
import {
  errorHandlerPlugin,
  generateSigningKey,
  identityPlugin,
  identityOf,
  JwksCache,
  natsPlugin,
  natsPublish,
  publicJwk,
  serverOptions,
  signAssertion
} from '../src/index.js'
import { captureLogs, startNatsServer } from '../src/testing/index.js'

const ISSUER = 'palisade-auth'

async function setup(t: Tap.Test) {
  const nats = await startNatsServer()
  t.teardown(() => nats.stop())
  const key = generateSigningKey()
  const logs = captureLogs()
  const app = Fastify(serverOptions({ service: 'chat', logLevel: 'info', logStream: logs.stream, bodyLimit: 1024 })).withTypeProvider<TypeBoxTypeProvider>()
  await app.register(errorHandlerPlugin)
  await app.register(natsPlugin, { connection: { url: nats.url, name: 'chat' } })
  await app.register(identityPlugin, { service: 'chat', issuer: ISSUER, jwks: new JwksCache(async () => ({ keys: [publicJwk(key)] })) })
  app.get('/who', async (req) => identityOf(req))
  app.post('/echo', { schema: { body: Type.Object({ name: Type.String({ maxLength: 20 }) }, { additionalProperties: false }) } }, async (req) => req.body)
  app.get('/boom', async () => {
    throw new Error('db password=hunter2 leaked in message')
  })
  app.get('/open', { config: { public: true } }, async () => ({ ok: true }))
  await app.ready()
  t.teardown(() => app.close())
  const userId = randomUUID()
  const sessionId = randomUUID()
  const mint = (over: Partial<Parameters<typeof signAssertion>[1]> = {}) =>
    signAssertion(key, { issuer: ISSUER, audience: 'chat', userId, sessionId, roles: ['user'], ...over }).token
  const headersFor = (assertion: string, user = userId) => ({ [IDENTITY_HEADERS.user]: user, [IDENTITY_HEADERS.assertion]: assertion })
  return { app, key, userId, sessionId, mint, headersFor, logs }
}

test('accepts a valid assertion for this service and exposes the identity', async (t) => {
  const { app, mint, headersFor, userId, sessionId } = await setup(t)
  const res = await app.inject({ url: '/who', headers: headersFor(mint()) })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { userId, sessionId, roles: ['user'] })
})

test('rejects what an attacker on the internal network would try', async (t) => {
  const { app, key, mint, headersFor, userId, sessionId } = await setup(t)
  const other = generateSigningKey()
  const now = Math.floor(Date.now() / 1000)
  const base = { iss: ISSUER, aud: 'chat', sub: userId, sid: sessionId, jti: randomUUID(), roles: ['user'] }
  const cases: Record<string, Record<string, string>> = {
    'no headers at all': {},
    'user header without assertion': { [IDENTITY_HEADERS.user]: userId },
    'assertion for another service': headersFor(mint({ audience: 'files' })),
    'assertion for another user': headersFor(mint(), randomUUID()),
    'signed by an unknown key': headersFor(signAssertion(other, { issuer: ISSUER, audience: 'chat', userId, sessionId, roles: [] }).token),
    'wrong issuer': headersFor(mint({ issuer: 'evil' })),
    expired: headersFor(jwt.sign({ ...base, iat: now - 120, exp: now - 60 }, key.privateKey, { algorithm: 'ES256', keyid: key.kid })),
    'lifetime over 60 s': headersFor(jwt.sign({ ...base, iat: now, exp: now + 3600 }, key.privateKey, { algorithm: 'ES256', keyid: key.kid })),
    'alg none': headersFor(jwt.sign({ ...base, iat: now, exp: now + 30 }, '', { algorithm: 'none', keyid: key.kid } as jwt.SignOptions)),
    'HS256 keyed with the public key': headersFor(
      jwt.sign({ ...base, iat: now, exp: now + 30 }, key.publicKey.export({ format: 'pem', type: 'spki' }).toString(), { algorithm: 'HS256', keyid: key.kid })
    ),
    'extra claims': headersFor(jwt.sign({ ...base, iat: now, exp: now + 30, admin: true }, key.privateKey, { algorithm: 'ES256', keyid: key.kid })),
    'tampered payload': headersFor(
      mint().replace(
        /\.([^.]+)\./,
        (_m, p: string) => `.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), roles: ['admin'] })).toString('base64url')}.`
      )
    ),
    garbage: headersFor('not.a.jwt')
  }
  for (const [name, headers] of Object.entries(cases)) {
    const res = await app.inject({ url: '/who', headers })
    t.equal(res.statusCode, 401, name)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', name)
    t.equal(res.json().code, 'UNAUTHENTICATED', name)
  }
  t.equal((await app.inject({ url: '/open' })).statusCode, 200, 'public routes need no identity')
})

test('a revoked session is refused even with a cached, unexpired assertion', async (t) => {
  const { app, mint, headersFor, sessionId, userId } = await setup(t)
  const assertion = mint()
  t.equal((await app.inject({ url: '/who', headers: headersFor(assertion) })).statusCode, 200)
  natsPublish(app.nats, AuthSessionRevoked, { userId, sessionIds: [sessionId], reason: 'logout', at: new Date().toISOString() })
  await app.nats.flush()
  const deadline = Date.now() + 1000
  let status = 200
  while (status === 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20))
    status = (await app.inject({ url: '/who', headers: headersFor(assertion) })).statusCode
  }
  t.equal(status, 401)
})

test('client mistakes are 4xx problems; internals never leak', async (t) => {
  const { app, mint, headersFor, logs } = await setup(t)
  const h = { ...headersFor(mint()), 'content-type': 'application/json' }
  const unknown = await app.inject({ method: 'POST', url: '/echo', headers: h, payload: { name: 'a', admin: true } })
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.json().code, 'VALIDATION_FAILED')
  const tooLong = await app.inject({ method: 'POST', url: '/echo', headers: h, payload: { name: 'a'.repeat(21) } })
  t.equal(tooLong.statusCode, 400)
  const malformed = await app.inject({ method: 'POST', url: '/echo', headers: h, payload: '{"name":' })
  t.equal(malformed.statusCode, 400)
  t.equal(malformed.json().code, 'MALFORMED_BODY')
  const big = await app.inject({ method: 'POST', url: '/echo', headers: h, payload: JSON.stringify({ name: 'x'.repeat(5000) }) })
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'BODY_TOO_LARGE')
  const wrongType = await app.inject({ method: 'POST', url: '/echo', headers: { ...h, 'content-type': 'text/xml' }, payload: '<a/>' })
  t.equal(wrongType.statusCode, 415)
  const boom = await app.inject({ url: '/boom', headers: h })
  t.equal(boom.statusCode, 500)
  t.notMatch(boom.body, /hunter2/)
  t.equal(boom.json().code, 'INTERNAL')
  const missing = await app.inject({ url: '/nope?token=abc', headers: h })
  t.equal(missing.statusCode, 404)
  t.notMatch(logs.text(), /token=abc/, 'query strings are not logged')
  t.notMatch(logs.text(), new RegExp(h[IDENTITY_HEADERS.assertion]!.slice(-20)), 'assertions are not logged')
})

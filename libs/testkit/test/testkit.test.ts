import { test } from 'tap'
import type { FastifyPluginAsync } from 'fastify'
import { identityOf, platformPlugin, type BaseConfig } from '@palisade/platform'
import { captureLogs } from '@palisade/platform/testing'
import { buildService, startTestStack } from '../src/index.js'

/** A stand-in for a service's app plugin, shaped like services/<name>/src/app.ts. */
const chatLike: FastifyPluginAsync<{ config: BaseConfig }> = async (app, { config }) => {
  await app.register(platformPlugin, { service: 'chat', config })
  app.get('/api/chat/whoami', async (req) => identityOf(req))
}

test('a service built with buildService accepts identity headers from the real /auth/verify', async (t) => {
  const stack = await startTestStack(t)
  const logs = captureLogs()
  const chat = await buildService(t, chatLike, stack.config({ LOG_LEVEL: 'info' }), { logStream: logs.stream })
  const alice = await stack.createUser({ displayName: 'Alice' })
  const headers = await stack.identityHeaders(alice, { method: 'GET', uri: '/api/chat/whoami' })
  const res = await chat.inject({ url: '/api/chat/whoami', headers })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { userId: alice.userId, sessionId: alice.sessionId, roles: ['admin'] }, "the installation's first account is its admin")
  const bob = await stack.createUser({ displayName: 'Bob' })
  const bobHeaders = await stack.identityHeaders(bob, { method: 'GET', uri: '/api/chat/whoami' })
  t.match((await chat.inject({ url: '/api/chat/whoami', headers: bobHeaders })).json(), { userId: bob.userId, sessionId: bob.sessionId, roles: ['member'] })

  const filesHeaders = await stack.identityHeaders(alice, { method: 'GET', uri: '/api/files/x' })
  t.equal((await chat.inject({ url: '/api/chat/whoami', headers: filesHeaders })).statusCode, 401, 'an assertion for files is refused by chat')
  t.equal((await chat.inject({ url: '/api/chat/whoami' })).statusCode, 401, 'no identity, no entry')

  await t.rejects(stack.identityHeaders({ accessToken: 'nope.nope.nope' }, { uri: '/api/chat/whoami' }), { status: 401 })
  await t.rejects(stack.identityHeaders(alice, { uri: '/login' }), /no assertion/, 'public routes carry no assertion')
  t.notMatch(logs.text(), alice.accessToken.slice(-20))
})

test('config() points another service at the same database and NATS', async (t) => {
  const stack = await startTestStack(t)
  const c = stack.config({ LOG_LEVEL: 'warn', CHAT_MAX_THINGS: 3 })
  t.equal(c.DATABASE_URL, stack.databaseUrl)
  t.equal(c.NATS_URL, stack.natsUrl)
  t.equal(c.CHAT_MAX_THINGS, 3)
  t.equal(c.LOG_LEVEL, 'warn')
})

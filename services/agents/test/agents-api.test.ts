import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildService, startTestStack } from '@palisade/testkit'
import agentsApp from '../src/app.js'

test('agents CRUD: my agents only, validated input, ops-configured providers only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agents-api-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const KEY = `sk-api-test-${randomUUID()}`
  writeFileSync(join(dir, 'key'), KEY)
  const stack = await startTestStack(t)
  const app = await buildService(
    t,
    agentsApp,
    {
      ...stack.config(),
      AGENTS_PROVIDERS: JSON.stringify([
        { id: 'openai', kind: 'openai-compatible', baseUrl: 'https://llm.internal.example/v1', apiKeyFile: join(dir, 'key'), models: ['gpt-a', 'gpt-b'] }
      ]),
      AGENTS_MAX_STEPS: 6
    },
    { service: 'agents' }
  )
  const alice = await stack.createUser()
  const bob = await stack.createUser()
  const hdr = new Map<string, Record<string, string>>()
  const as = async (u: typeof alice) => {
    if (!hdr.has(u.userId)) hdr.set(u.userId, (await stack.identityHeaders(u, { method: 'POST', uri: '/api/agents' })) as Record<string, string>)
    return hdr.get(u.userId)!
  }
  const req = async (u: typeof alice, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    app.inject({ method, url, headers: await as(u), ...(payload !== undefined ? { payload: payload as object } : {}) })

  t.equal((await app.inject({ method: 'GET', url: '/api/agents' })).statusCode, 401, 'no identity, no access')

  const providers = await req(alice, 'GET', '/api/agents/providers')
  t.equal(providers.statusCode, 200)
  t.same(providers.json().providers, [
    { id: 'local', kind: 'local', models: ['echo'], default: true },
    { id: 'openai', kind: 'openai-compatible', models: ['gpt-a', 'gpt-b'], default: false }
  ])
  t.notMatch(providers.body, /llm\.internal|sk-/, 'neither URL nor key is disclosed')

  const created = await req(alice, 'POST', '/api/agents', { name: 'Summariser', instructions: 'Summarise.', tools: ['chat.history'], limits: { maxSteps: 3 } })
  t.equal(created.statusCode, 201)
  const agent = created.json()
  t.match(agent, { name: 'Summariser', provider: 'local', model: 'echo', tools: ['chat.history'], limits: { maxSteps: 3 } })
  t.equal(created.headers.location, `/api/agents/${agent.id}`)

  const bad = async (body: unknown, what: string, status = 400) => {
    const r = await req(alice, 'POST', '/api/agents', body)
    t.equal(r.statusCode, status, what)
    t.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8')
  }
  await bad({ name: 'x', instructions: 'a'.repeat(20_001) }, 'instructions over 20,000 chars')
  await bad({ name: 'x', tools: ['agents.run'] }, 'a tool outside the allow list')
  await bad({ name: 'x', tools: ['chat.search', 'chat.search'] }, 'duplicate tools')
  await bad({ name: 'x', provider: 'evil' }, 'an unknown provider')
  await bad({ name: 'x', provider: 'openai', model: 'gpt-z' }, 'a model the provider does not offer')
  await bad({ name: 'x', baseUrl: 'http://169.254.169.254/' }, 'no URL from users (unknown property)')
  await bad({ name: 'x', limits: { maxSteps: 0 } }, 'limits out of range')
  await bad({ name: 'x', limits: { sneaky: 1 } }, 'unknown limit')
  await bad({ name: '' }, 'empty name')
  await bad({ name: 'x', instructions: 'a\u0000b' }, 'NUL in instructions')
  await bad({ name: 'x', temperature: 2.5 }, 'temperature above 2')
  await bad({ name: 'x', temperature: -0.1 }, 'negative temperature')
  await bad({ name: 'x', tools: ['mcp:none/tool'] }, 'an MCP tool operations did not configure')
  t.equal(agent.temperature, null, "no temperature: the provider's default")
  const warm = await req(alice, 'POST', '/api/agents', { name: 'Warm', temperature: 0.7 })
  t.equal(warm.json().temperature, 0.7, 'kept exactly')
  const cooled = await req(alice, 'PATCH', `/api/agents/${warm.json().id}`, { temperature: null })
  t.equal(cooled.json().temperature, null, 'null resets it')
  t.equal((await req(alice, 'DELETE', `/api/agents/${warm.json().id}`)).statusCode, 204)
  t.equal((await req(alice, 'GET', '/api/agents/tools')).json().tools.length, 4, 'the built-in tools, no MCP server configured')
  t.ok((await req(alice, 'POST', '/api/agents', { name: 'x', instructions: 'a'.repeat(20_000) })).statusCode === 201, '20,000 chars are fine')

  const other = await req(alice, 'POST', '/api/agents', { name: 'Remote', provider: 'openai' })
  t.equal(other.json().model, 'gpt-a', 'the provider’s first model by default')

  // Bob sees none of it.
  t.equal((await req(bob, 'GET', `/api/agents/${agent.id}`)).statusCode, 404)
  t.equal((await req(bob, 'PATCH', `/api/agents/${agent.id}`, { name: 'mine now' })).statusCode, 404)
  t.equal((await req(bob, 'DELETE', `/api/agents/${agent.id}`)).statusCode, 404)
  t.same((await req(bob, 'GET', '/api/agents')).json().agents, [])

  const list = await req(alice, 'GET', '/api/agents?limit=2')
  t.equal(list.json().agents.length, 2)
  t.ok(list.json().nextCursor)
  const rest = await req(alice, 'GET', `/api/agents?limit=2&cursor=${list.json().nextCursor}`)
  t.equal(rest.json().agents.length, 1)
  t.notOk(rest.json().nextCursor)
  t.equal((await req(alice, 'GET', '/api/agents?cursor=%2E%2E')).statusCode, 400)
  // Crafted cursors, as an attacker builds them: the attack review's year-0 date (once a 500 from
  // PostgreSQL), times out of range, another list's cursor, a second spelling of a valid one.
  const b64 = (text: string) => Buffer.from(text).toString('base64url')
  const crafted = [
    b64(`0000-01-01|${agent.id}`),
    b64(`a:-62167219200000.${agent.id}`),
    b64(`a:8640000000000000.${agent.id}`),
    b64(`f:1700000000000.${agent.id}`),
    `${list.json().nextCursor}A`
  ]
  for (const url of ['/api/agents', `/api/agents/${agent.id}/runs`]) {
    for (const cursor of crafted) {
      const res = await req(alice, 'GET', `${url}?cursor=${cursor}`)
      t.match(
        { status: res.statusCode, type: res.headers['content-type'], body: res.json() },
        { status: 400, type: /problem\+json/, body: { code: 'VALIDATION_FAILED' } },
        `${url}: ${Buffer.from(cursor, 'base64url').toString()}`
      )
    }
  }

  const patched = await req(alice, 'PATCH', `/api/agents/${agent.id}`, { provider: 'openai', model: 'gpt-b', tools: ['chat.search', 'files.read'] })
  t.equal(patched.statusCode, 200)
  t.match(patched.json(), { provider: 'openai', model: 'gpt-b', tools: ['chat.search', 'files.read'] })
  t.equal((await req(alice, 'PATCH', `/api/agents/${agent.id}`, {})).statusCode, 400, 'an empty update')
  t.equal((await req(alice, 'PATCH', `/api/agents/${agent.id}`, { model: 'echo' })).statusCode, 400, 'a model of another provider')

  t.equal((await req(alice, 'DELETE', `/api/agents/${agent.id}`)).statusCode, 204)
  t.equal((await req(alice, 'GET', `/api/agents/${agent.id}`)).statusCode, 404)
  t.equal((await req(alice, 'GET', '/api/agents/not-a-uuid')).statusCode, 400)

  const everything = JSON.stringify((await app.pg.query('SELECT * FROM agents.agents')).rows)
  t.notMatch(everything, KEY, 'no key in the database')
})

import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { startAgents } from './helpers/stack.js'

// The built-in `local` provider end to end: real auth, chat, files, gateway and agents on one
// PostgreSQL and one nats-server. Its input directives (`@tool`, `@long`, `@slow`) drive tools and limits.

test('local provider', async (t) => {
  const h = await startAgents(t, { gateway: true, files: true, agents: { AGENTS_RUNS_PER_MINUTE: 1000 } })
  const alice = await h.user()
  const bob = await h.user()
  const carol = await h.user()
  const conv = await h.conversation(alice, [bob])
  const carolsConv = await h.conversation(carol)
  await h.say(carol, carolsConv, 'carol private plans: the password is swordfish')
  await h.say(bob, conv, 'Bob says: meeting moved to 3pm')

  await t.test('a run streams deltas to a member socket and posts the final message', async (t) => {
    const bobSocket = await h.socket(bob)
    const agent = await h.createAgent(alice)
    const res = await h.startRun(alice, agent.id, conv, 'hello agents, summarise please')
    t.equal(res.statusCode, 202)
    const run = res.json()
    t.equal(run.status, 'running')
    t.equal(res.headers.location, `/api/agents/${agent.id}/runs/${run.id}`)

    const completed = await bobSocket.next((f) => f.type === 'agent.run.completed' && f.runId === run.id)
    const deltas = bobSocket.frames.filter((f) => f.type === 'agent.run.delta' && f.runId === run.id)
    t.ok(deltas.length >= 1, 'deltas reached the socket')
    t.same(
      deltas.map((d) => d.seq),
      deltas.map((_, i) => i),
      'in order'
    )
    t.equal(deltas.map((d) => d.text).join(''), 'You said: hello agents, summarise please')
    const created = await bobSocket.next((f) => f.type === 'message.created' && f.message.author.kind === 'agent')
    t.same(created.message.author, { kind: 'agent', agentRunId: run.id })
    t.equal(created.message.senderId, alice.userId, 'posted as the user who ran it')
    t.equal(created.message.text, 'You said: hello agents, summarise please')
    t.equal(completed.messageId, created.message.id)

    const final = await h.waitRun(alice, agent.id, run.id)
    t.match(final, { status: 'completed', messageId: created.message.id, output: 'You said: hello agents, summarise please' })
    t.same(
      final.steps.map((s: { kind: string }) => s.kind),
      ['model_call']
    )
    t.match(final.usage, { modelCalls: 1, toolCalls: 0 })
    t.ok(final.usage.outputTokens > 0)
    t.equal((await h.api(bob, 'GET', `/api/agents/${agent.id}/runs/${run.id}`)).statusCode, 404, 'runs are private to their user')
    const list = await h.api(alice, 'GET', `/api/agents/${agent.id}/runs`)
    t.equal(list.json().runs[0].id, run.id)
  })

  await t.test('only members may run, only their own agents', async (t) => {
    const agent = await h.createAgent(alice)
    const carolAgent = await h.createAgent(carol)
    const notMember = await h.startRun(carol, carolAgent.id, conv, 'let me in')
    t.equal(notMember.statusCode, 404)
    t.equal(notMember.json().code, 'NOT_FOUND')
    t.equal((await h.startRun(carol, agent.id, carolsConv, 'hi')).statusCode, 404, "someone else's agent")
    t.equal((await h.startRun(alice, agent.id, randomUUID(), 'hi')).statusCode, 404, 'no such conversation')
    t.equal((await h.startRun(alice, agent.id, conv, '')).statusCode, 400, 'empty input')
    t.equal((await h.startRun(alice, agent.id, conv, 'x'.repeat(8001))).statusCode, 400, 'input too long')
    t.equal((await h.startRun(alice, agent.id, conv, 'nul \u0000 byte')).statusCode, 400, 'control characters')
    const runs = await h.agents.pg.query('SELECT count(*)::int AS n FROM agents.runs WHERE user_id = $1', [carol.userId])
    t.equal(runs.rows[0].n, 0, 'nothing recorded')
  })

  await t.test('tools act with the user’s rights, only from the list, arguments validated', async (t) => {
    const agent = await h.createAgent(alice, { tools: ['chat.history', 'chat.search', 'files.read'] })
    const bobsPrivateFile = await h.upload(bob, 'bob.txt', 'bob private diary')
    const shared = await h.upload(bob, 'shared.txt', 'shared agenda: budget review', conv)
    const alicesPrivate = await h.upload(alice, 'alice.txt', 'alice private notes')

    const run = async (input: string, a = agent.id) => {
      const r = await h.startRun(alice, a, conv, input)
      t.equal(r.statusCode, 202)
      return h.waitRun(alice, a, r.json().id)
    }
    const results = (r: Record<string, any>) => r.steps.filter((s: { kind: string }) => s.kind === 'tool_result').map((s: { data: unknown }) => s.data)

    const hist = await run('@tool chat_history {"limit":5}')
    t.equal(hist.status, 'completed')
    t.match(results(hist)[0], { tool: 'chat.history', ok: true })
    t.match(hist.output, /meeting moved to 3pm/, 'the tool saw this conversation')
    t.same(
      hist.steps.map((s: { kind: string }) => s.kind),
      ['model_call', 'tool_call', 'tool_result', 'model_call']
    )

    const other = await run(`@tool chat_history {"conversationId":"${carolsConv}"}`)
    t.match(results(other)[0], { ok: false, refused: true, error: /only reads the current conversation/ })
    t.notMatch(other.output, /swordfish/)

    const search = await run(`@tool chat_search {"query":"swordfish","conversationId":"${carolsConv}"}`)
    t.match(
      results(search)[0],
      { ok: false, refused: true, rule: 'information_flow' },
      'refused before chat is asked: Bob cannot read it (nor can Alice, who is no member)'
    )
    t.notMatch(search.output, /swordfish/)
    const searchAll = await run('@tool chat_search {"query":"swordfish"}')
    t.match(results(searchAll)[0], { ok: true })
    t.notMatch(searchAll.output, /swordfish/, "search only covers the user's conversations")

    const file = await run(`@tool files_read {"fileId":"${bobsPrivateFile}"}`)
    t.match(results(file)[0], { tool: 'files.read', ok: false, refused: true, error: /not found or not accessible/ })
    t.notMatch(file.output, /diary/)
    const sharedFile = await run(`@tool files_read {"fileId":"${shared}"}`)
    t.match(results(sharedFile)[0], { ok: true })
    t.match(sharedFile.output, /budget review/)

    const invalid = await run('@tool chat_history {"limit":1000}')
    t.match(results(invalid)[0], { ok: false, refused: true, error: /invalid arguments/ })
    const nul = await run('@tool chat_history {"before":"\\u0000"}')
    t.match(results(nul)[0], { ok: false, refused: true }, 'an escaped NUL in model-made arguments is refused')
    const garbage = await run('@tool chat_history {not json')
    t.match(results(garbage)[0], { ok: false, refused: true, error: /not valid JSON/ })

    const agentCall = await run('@tool agents_run {"agentId":"x"}')
    t.match(results(agentCall)[0], { ok: false, refused: true, error: /unknown tool/ }, 'no tool reaches another agent')

    const narrow = await h.createAgent(alice, { tools: ['chat.history'] })
    const notListed = await run('@tool chat_search {"query":"budget"}', narrow.id)
    t.match(results(notListed)[0], { ok: false, refused: true, error: /not enabled for this agent/ })

    // After untrusted output reached the model, tools may only touch this conversation.
    const chained = await run(`@tool chat_history {}\n@tool files_read {"fileId":"${alicesPrivate}"}\n@tool files_read {"fileId":"${shared}"}`)
    const [first, second, third] = results(chained)
    t.match(first, { ok: true })
    t.match(second, { ok: false, refused: true, error: /only read files shared in the current conversation/ })
    t.match(third, { ok: true })
    t.notMatch(chained.output, /alice private notes/)
    const direct = await run(`@tool files_read {"fileId":"${alicesPrivate}"}`)
    t.match(results(direct)[0], { ok: false, rule: 'information_flow' }, 'even asked for directly, her private file is not for Bob')
    const alone = await h.conversation(alice)
    const own = await h.startRun(alice, agent.id, alone, `@tool files_read {"fileId":"${alicesPrivate}"}`)
    t.match(results(await h.waitRun(alice, agent.id, own.json().id))[0], { ok: true }, 'alone with her agent, it is')
  })

  await t.test('limits: steps, tool calls, output tokens, call and run timeouts', async (t) => {
    const run = async (limits: Record<string, number>, input: string) => {
      const agent = await h.createAgent(alice, { tools: ['chat.history'], limits })
      const r = await h.startRun(alice, agent.id, conv, input)
      t.equal(r.statusCode, 202)
      return h.waitRun(alice, agent.id, r.json().id)
    }
    const steps = await run({ maxSteps: 1 }, '@tool chat_history {}')
    t.match(steps, { status: 'failed', failure: { reason: 'max_steps' } })
    const tools = await run({ maxToolCalls: 1 }, '@tool chat_history {}\n@tool chat_history {}')
    t.match(tools, { status: 'failed', failure: { reason: 'max_tool_calls' }, usage: { toolCalls: 1 } })
    const tokens = await run({ maxOutputTokens: 5 }, '@long 50')
    t.match(tokens, { status: 'failed', failure: { reason: 'max_output_tokens' } })
    t.ok(tokens.usage.outputTokens <= 5)
    const exact = await run({ maxOutputTokens: 5 }, '@long 5')
    t.equal(exact.status, 'completed', 'exactly at the limit is fine')
    const call = await run({ callTimeoutMs: 150 }, '@slow 100\n@long 10')
    t.match(call, { status: 'failed', failure: { reason: 'call_timeout' } })
    const wall = await run({ runTimeoutMs: 300, callTimeoutMs: 10_000 }, '@tool chat_history {}\n@tool chat_history {}\n@slow 60\n@long 20')
    t.match(wall, { status: 'failed', failure: { reason: 'run_timeout' } })
    const none = await h.history(alice, conv)
    t.notOk(
      none.some((m) => m.author.kind === 'agent' && [steps.id, tools.id, tokens.id, call.id, wall.id].includes(m.author.agentRunId)),
      'failed runs post nothing'
    )
  })

  await t.test('logging out ends the runs acting with that session', async (t) => {
    const dave = await h.user()
    const davesConv = await h.conversation(dave, [alice])
    const agent = await h.createAgent(dave)
    const r = await h.startRun(dave, agent.id, davesConv, '@slow 40\n@long 500')
    t.equal(r.statusCode, 202)
    const out = await fetch(`${h.stack.authUrl}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${dave.accessToken}` } })
    t.equal(out.status, 204)
    let row: { status: string; failure_reason: string | null } | undefined
    for (let i = 0; i < 200; i++) {
      row = (await h.agents.pg.query('SELECT status, failure_reason FROM agents.runs WHERE id = $1', [r.json().id])).rows[0]
      if (row?.status !== 'running') break
      await new Promise((res) => setTimeout(res, 25))
    }
    t.same(row, { status: 'failed', failure_reason: 'access_revoked' })
  })

  await t.test('cancel mid-stream', async (t) => {
    const bobSocket = await h.socket(bob)
    const agent = await h.createAgent(alice)
    const r = await h.startRun(alice, agent.id, conv, '@slow 40\n@long 500')
    const runId = r.json().id
    await bobSocket.next((f) => f.type === 'agent.run.delta' && f.runId === runId)
    const cancel = await h.api(alice, 'POST', `/api/agents/${agent.id}/runs/${runId}/cancel`)
    t.equal(cancel.statusCode, 200)
    t.equal(cancel.json().status, 'cancelled')
    await bobSocket.next((f) => f.type === 'agent.run.cancelled' && f.runId === runId)
    t.equal((await h.api(bob, 'POST', `/api/agents/${agent.id}/runs/${runId}/cancel`)).statusCode, 404, 'only its user cancels')
    t.equal((await h.api(alice, 'POST', `/api/agents/${agent.id}/runs/${runId}/cancel`)).statusCode, 200, 'idempotent')
    const done = await h.startRun(alice, agent.id, conv, 'quick')
    const finished = await h.waitRun(alice, agent.id, done.json().id)
    t.equal((await h.api(alice, 'POST', `/api/agents/${agent.id}/runs/${finished.id}/cancel`)).statusCode, 409, 'too late once completed')
  })
})

test('per-user run limits: concurrency and runs per minute (429 + Retry-After)', async (t) => {
  const h = await startAgents(t, { agents: { AGENTS_MAX_CONCURRENT_RUNS: 1, AGENTS_RUNS_PER_MINUTE: 3 } })
  const alice = await h.user()
  const bob = await h.user()
  const conv = await h.conversation(alice, [bob])
  const agent = await h.createAgent(alice)
  const bobAgent = await h.createAgent(bob)

  const slow = await h.startRun(alice, agent.id, conv, '@slow 50\n@long 200')
  t.equal(slow.statusCode, 202)
  const second = await h.startRun(alice, agent.id, conv, 'again')
  t.equal(second.statusCode, 429)
  t.equal(second.json().code, 'TOO_MANY_REQUESTS')
  t.ok(Number(second.headers['retry-after']) >= 1)
  t.equal((await h.startRun(bob, bobAgent.id, conv, 'mine')).statusCode, 202, 'other users are not affected')
  const cancelled = await h.api(alice, 'POST', `/api/agents/${agent.id}/runs/${slow.json().id}/cancel`)
  t.equal(cancelled.json().status, 'cancelled', cancelled.body)

  const a = await h.startRun(alice, agent.id, conv, 'two')
  t.equal(a.statusCode, 202)
  await h.waitRun(alice, agent.id, a.json().id)
  const b = await h.startRun(alice, agent.id, conv, 'three')
  t.equal(b.statusCode, 202, b.body)
  await h.waitRun(alice, agent.id, b.json().id)
  const fourth = await h.startRun(alice, agent.id, conv, 'four')
  t.equal(fourth.statusCode, 429, 'the fourth run within a minute')
  const wait = Number(fourth.headers['retry-after'])
  t.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`)
})

test('several instances: crash recovery at start, cancel across instances, shutdown ends runs', async (t) => {
  const h = await startAgents(t, { agents: { AGENTS_RUNS_PER_MINUTE: 1000 } })
  const alice = await h.user()
  const conv = await h.conversation(alice)
  const agent = await h.createAgent(alice)
  const orphan = randomUUID()
  await h.agents.pg.query(
    `INSERT INTO agents.runs (id, agent_id, user_id, session_id, conversation_id, status, input, provider, model, limits, usage, heartbeat_at)
     VALUES ($1, $2, $3, $4, $5, 'running', 'x', 'local', 'echo', '{"maxSteps":1,"maxToolCalls":0,"callTimeoutMs":1000,"runTimeoutMs":1000,"maxOutputTokens":10}',
             '{"inputTokens":0,"outputTokens":0,"modelCalls":0,"toolCalls":0}', now() - interval '1 hour')`,
    [orphan, agent.id, alice.userId, alice.sessionId, conv]
  )
  const { buildService } = await import('@palisade/testkit')
  const agentsApp = (await import('@palisade/agents')).default
  const second = await buildService(t, agentsApp, h.config, { service: 'agents' })
  const run = await h.waitRun(alice, agent.id, orphan, 2000)
  t.match(run, { status: 'failed', failure: { reason: 'interrupted' } }, 'the new instance ended the orphan at start')
  t.ok(run.finishedAt)

  // A run executing on the second instance, cancelled through the first.
  const elsewhere = await h.call(second, alice, 'POST', `/api/agents/${agent.id}/runs`, { conversationId: conv, input: '@slow 50\n@long 500' })
  t.equal(elsewhere.statusCode, 202)
  const cancel = await h.api(alice, 'POST', `/api/agents/${agent.id}/runs/${elsewhere.json().id}/cancel`)
  t.equal(cancel.statusCode, 202, 'accepted: the run executes on another instance')
  t.match(await h.waitRun(alice, agent.id, elsewhere.json().id, 5000), { status: 'cancelled' })

  // Shutting an instance down ends its runs instead of leaving them running.
  const last = await h.call(second, alice, 'POST', `/api/agents/${agent.id}/runs`, { conversationId: conv, input: '@slow 50\n@long 500' })
  t.equal(last.statusCode, 202)
  await second.close()
  t.match(await h.waitRun(alice, agent.id, last.json().id, 5000), { status: 'failed', failure: { reason: 'interrupted' } })
})

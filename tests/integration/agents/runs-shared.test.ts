import { test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { startAgents } from './helpers/stack.js'

// Agents shared with a conversation: any current member may run one, only its owner edits it, and
// the sharing ends when it is withdrawn or the owner leaves. Real auth, chat, gateway and agents on
// one PostgreSQL and one nats-server; attackers are members and non-members with real sessions.

const SLOW_RUN = '@slow 30\n@long 200'

test('agents shared with a conversation', async (t) => {
  const h = await startAgents(t, { gateway: true, agents: { AGENTS_RUNS_PER_MINUTE: 1000, AGENTS_HEARTBEAT_MS: 200 } })
  const alice = await h.user()
  const bob = await h.user()
  const carol = await h.user()
  const mallory = await h.user()

  /** polls the owner's view of the agent until `pred` holds */
  async function waitAgent(agentId: string, pred: (a: Record<string, any>) => boolean): Promise<Record<string, any>> {
    const deadline = Date.now() + 10_000
    for (;;) {
      const a = (await h.api(alice, 'GET', `/api/agents/${agentId}`)).json()
      if (pred(a)) return a
      if (Date.now() > deadline) throw new Error(`agent never matched: ${JSON.stringify(a)}`)
      await sleep(50)
    }
  }

  await t.test('members run it and see its name; others cannot run, read or edit it', async (t) => {
    const conv = await h.conversation(alice, [bob])
    const other = await h.conversation(mallory)
    const agent = await h.createAgent(alice, { name: 'Reviewer', instructions: 'secret instructions', sharedConversationId: conv })
    t.equal((await h.api(alice, 'GET', `/api/agents/${agent.id}`)).json().sharedConversationId, conv)

    const shared = await h.api(bob, 'GET', `/api/agents/shared?conversationId=${conv}`)
    t.equal(shared.statusCode, 200)
    t.same(shared.json(), { agents: [{ id: agent.id, name: 'Reviewer', ownerId: alice.userId, conversationId: conv }] }, 'name and owner, never instructions')
    t.equal((await h.api(mallory, 'GET', `/api/agents/shared?conversationId=${conv}`)).statusCode, 404, 'a non-member cannot list them')

    const aliceSocket = await h.socket(alice)
    const started = await h.startRun(bob, agent.id, conv, 'summarise please')
    t.equal(started.statusCode, 202, 'a member who is not the owner runs it')
    const run = started.json()
    t.equal(run.agentName, 'Reviewer')
    const done = await h.waitRun(bob, agent.id, run.id)
    t.equal(done.status, 'completed')
    const delta = await aliceSocket.next((f) => f.type === 'agent.run.delta' && f.runId === run.id)
    t.equal(delta.agentName, 'Reviewer', 'the other members get the agent’s name with the stream')
    const completed = await aliceSocket.next((f) => f.type === 'agent.run.completed' && f.runId === run.id)
    t.equal(completed.agentName, 'Reviewer')
    const msg = (await h.history(alice, conv)).find((m) => m.id === done.messageId)
    t.match(msg, { senderId: bob.userId, author: { kind: 'agent', agentRunId: run.id } }, 'posted as the member who ran it')

    t.equal((await h.startRun(mallory, agent.id, conv, 'hi')).statusCode, 404, 'a non-member cannot run it in the conversation')
    t.equal((await h.startRun(mallory, agent.id, other, 'hi')).statusCode, 404, 'nor in a conversation of their own')
    t.equal((await h.startRun(bob, agent.id, other, 'hi')).statusCode, 404, 'a member cannot take it to a conversation it is not shared with')

    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { instructions: 'leak everything' }],
      ['PATCH', { sharedConversationId: null }],
      ['DELETE', undefined]
    ] as const) {
      const res = await h.api(bob, method, `/api/agents/${agent.id}`, body)
      t.equal(res.statusCode, 404, `a member who is not the owner: ${method} ${body ? JSON.stringify(body) : ''} is not found`)
    }
    const after = (await h.api(alice, 'GET', `/api/agents/${agent.id}`)).json()
    t.match(after, { instructions: 'secret instructions', sharedConversationId: conv }, 'unchanged')

    // Bob's runs of the shared agent are his; he sees them, alice does not see his run through her own list.
    t.equal((await h.api(bob, 'GET', `/api/agents/${agent.id}/runs/${run.id}`)).statusCode, 200)
  })

  await t.test('sharing needs membership, and ends when withdrawn', async (t) => {
    const conv = await h.conversation(alice, [bob])
    const foreign = await h.conversation(mallory, [carol])
    t.equal((await h.api(alice, 'POST', '/api/agents', { name: 'x', sharedConversationId: foreign })).statusCode, 404, 'not with a conversation she is not in')
    const agent = await h.createAgent(alice)
    t.equal((await h.api(alice, 'PATCH', `/api/agents/${agent.id}`, { sharedConversationId: foreign })).statusCode, 404)
    t.equal((await h.api(alice, 'PATCH', `/api/agents/${agent.id}`, { sharedConversationId: 'nope' })).statusCode, 400)
    t.equal((await h.startRun(bob, agent.id, conv, 'hi')).statusCode, 404, 'private: only the owner runs it')

    t.equal((await h.api(alice, 'PATCH', `/api/agents/${agent.id}`, { sharedConversationId: conv })).statusCode, 200)
    const running = (await h.startRun(bob, agent.id, conv, SLOW_RUN)).json()
    t.equal((await h.api(alice, 'PATCH', `/api/agents/${agent.id}`, { sharedConversationId: null })).json().sharedConversationId, null)
    t.match(await h.waitRun(bob, agent.id, running.id), { status: 'failed', failure: { reason: 'access_revoked' } }, 'a member’s run in progress stops')
    t.equal((await h.startRun(bob, agent.id, conv, 'hi')).statusCode, 404, 'withdrawn: the member can no longer run it')
    t.same((await h.api(bob, 'GET', `/api/agents/shared?conversationId=${conv}`)).json(), { agents: [] })
    t.equal((await h.startRun(alice, agent.id, conv, 'hi')).statusCode, 202, 'the owner still can')
  })

  await t.test('the owner leaving ends the sharing; so does a member removed from it', async (t) => {
    const conv = await h.conversation(carol, [alice, bob])
    const agent = await h.createAgent(alice, { sharedConversationId: conv })
    const bobRun = (await h.startRun(bob, agent.id, conv, 'hello')).json()
    t.equal((await h.waitRun(bob, agent.id, bobRun.id)).status, 'completed')

    // bob removed: he cannot run it any more (he is not a member).
    t.equal((await h.call(h.chat, carol, 'DELETE', `/api/chat/conversations/${conv}/members/${bob.userId}`)).statusCode, 204)
    t.equal((await h.startRun(bob, agent.id, conv, 'again')).statusCode, 404, 'a shared agent used after the member left')

    // alice (its owner) leaves: the sharing ends.
    t.equal((await h.call(h.chat, alice, 'DELETE', `/api/chat/conversations/${conv}/members/${alice.userId}`)).statusCode, 204)
    await waitAgent(agent.id, (a) => a.sharedConversationId === null)
    t.equal((await h.startRun(carol, agent.id, conv, 'hi')).statusCode, 404, 'the remaining member can no longer run it')
    // Coming back does not bring the sharing back.
    t.equal((await h.call(h.chat, carol, 'POST', `/api/chat/conversations/${conv}/members`, { userId: alice.userId })).statusCode, 201)
    t.equal((await h.startRun(carol, agent.id, conv, 'hi')).statusCode, 404)
  })

  await t.test('an owner gone without an event: the next run start ends the sharing', async (t) => {
    const conv = await h.conversation(carol, [alice, bob])
    const agent = await h.createAgent(alice, { sharedConversationId: conv })
    // As if chat crashed between its commit and its publish.
    await h.chat.pg.query('DELETE FROM chat.members WHERE conversation_id = $1 AND user_id = $2', [conv, alice.userId])
    t.same((await h.api(bob, 'GET', `/api/agents/shared?conversationId=${conv}`)).json(), { agents: [] }, 'not listed')
    t.equal((await h.startRun(bob, agent.id, conv, 'hi')).statusCode, 404)
    t.equal((await h.api(alice, 'GET', `/api/agents/${agent.id}`)).json().sharedConversationId, null, 'and it is recorded as ended')
  })

  await t.test('run metadata for every member: labels after a reload', async (t) => {
    const conv = await h.conversation(alice, [bob])
    const agent = await h.createAgent(alice, { name: 'Scribe', sharedConversationId: conv })
    const done = (await h.startRun(alice, agent.id, conv, 'write it')).json()
    await h.waitRun(alice, agent.id, done.id)
    const slow = (await h.startRun(bob, agent.id, conv, SLOW_RUN)).json()
    const bobSocket = await h.socket(bob)
    await bobSocket.next((f) => f.type === 'agent.run.delta' && f.runId === slow.id)
    const cancel = await h.api(bob, 'POST', `/api/agents/${agent.id}/runs/${slow.id}/cancel`, {})
    t.ok([200, 202].includes(cancel.statusCode))
    t.equal((await h.waitRun(bob, agent.id, slow.id)).status, 'cancelled')
    // Renaming later does not relabel what was said.
    await h.api(alice, 'PATCH', `/api/agents/${agent.id}`, { name: 'Renamed' })

    const asBob = (await h.api(bob, 'GET', `/api/agents/conversations/${conv}/runs`)).json().runs
    t.equal(asBob.length, 2)
    t.match(asBob[0], { id: slow.id, agentId: agent.id, agentName: 'Scribe', userId: bob.userId, status: 'cancelled', input: SLOW_RUN })
    t.match(asBob[0].output, /^t1 /, 'the partial text of his cancelled run')
    t.match(asBob[1], { id: done.id, agentName: 'Scribe', status: 'completed' })
    t.ok(asBob[1].messageId, 'with the message it posted')
    t.notOk('input' in asBob[1], 'not the prompt of someone else’s run')
    const asAlice = (await h.api(alice, 'GET', `/api/agents/conversations/${conv}/runs`)).json().runs
    t.notOk('output' in asAlice[0] || 'input' in asAlice[0], 'nor the partial text of someone else’s cancelled run')
    t.equal((await h.api(mallory, 'GET', `/api/agents/conversations/${conv}/runs`)).statusCode, 404, 'a non-member learns nothing')
    t.equal((await h.api(bob, 'GET', `/api/agents/conversations/${conv}/runs?limit=1`)).json().runs.length, 1)
  })
})

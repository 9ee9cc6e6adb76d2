import { test } from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { startAgents, type Socket } from './helpers/stack.js'

// A run's stream goes only to the conversation's current members: real auth, chat, gateway and
// agents on one PostgreSQL and one nats-server, a slow `local` model, and members leaving mid-run.

const SLOW_RUN = '@slow 30\n@long 120'
const HEARTBEAT_MS = 200

const runFrames = (s: Socket, runId: string) => s.frames.filter((f) => typeof f.type === 'string' && f.type.startsWith('agent.run.') && f.runId === runId)
/** run frames received after the first frame matching `pred` */
function after(s: Socket, runId: string, pred: (f: Record<string, any>) => boolean): Record<string, any>[] {
  const i = s.frames.findIndex(pred)
  if (i < 0) throw new Error('marker frame not received')
  return s.frames.slice(i + 1).filter((f) => typeof f.type === 'string' && f.type.startsWith('agent.run.') && f.runId === runId)
}

test('a run streams only to current members', async (t) => {
  const h = await startAgents(t, { gateway: true, agents: { AGENTS_RUNS_PER_MINUTE: 1000, AGENTS_HEARTBEAT_MS: HEARTBEAT_MS } })
  const alice = await h.user()
  const bob = await h.user()
  const carol = await h.user()

  const removeMember = async (by: typeof alice, conv: string, userId: string) => {
    const res = await h.call(h.chat, by, 'DELETE', `/api/chat/conversations/${conv}/members/${userId}`)
    if (res.statusCode !== 204) throw new Error(`remove member: ${res.statusCode} ${res.body}`)
  }

  await t.test('a removed member gets nothing after member.removed; the others get the rest', async (t) => {
    const conv = await h.conversation(alice, [bob, carol])
    const bobSocket = await h.socket(bob)
    const carolSocket = await h.socket(carol)
    const agent = await h.createAgent(alice)
    const runId = (await h.startRun(alice, agent.id, conv, SLOW_RUN)).json().id as string
    await bobSocket.next((f) => f.type === 'agent.run.delta' && f.runId === runId)

    await removeMember(alice, conv, bob.userId)
    const isRemoval = (f: Record<string, any>) => f.type === 'member.removed' && f.conversationId === conv && f.userId === bob.userId
    await bobSocket.next(isRemoval)
    await carolSocket.next(isRemoval)
    const completed = await carolSocket.next((f) => f.type === 'agent.run.completed' && f.runId === runId, 15_000)
    await sleep(100)

    t.same(after(bobSocket, runId, isRemoval), [], 'no run frame reaches the removed member after the removal')
    t.notOk(
      bobSocket.frames.some((f) => f.type === 'message.created' && f.message.id === completed.messageId),
      'nor the posted message'
    )
    const carolAfter = after(carolSocket, runId, isRemoval)
    t.ok(carolAfter.filter((f) => f.type === 'agent.run.delta').length >= 5, 'the remaining member still gets the rest of the stream')
    const deltas = runFrames(carolSocket, runId).filter((f) => f.type === 'agent.run.delta')
    t.same(
      deltas.map((d) => d.seq),
      deltas.map((_, i) => i),
      'complete and in order for the remaining member'
    )
    t.equal(deltas.map((d) => d.text).join(''), Array.from({ length: 120 }, (_, i) => `t${i + 1}`).join(' '))
    t.match(await h.waitRun(alice, agent.id, runId), { status: 'completed' }, 'removing another member does not stop the run')
  })

  await t.test('when the run’s own user leaves, the run ends and the others are told', async (t) => {
    const conv = await h.conversation(alice, [bob, carol])
    const bobSocket = await h.socket(bob)
    const carolSocket = await h.socket(carol)
    const agent = await h.createAgent(bob)
    const runId = (await h.startRun(bob, agent.id, conv, SLOW_RUN)).json().id as string
    await carolSocket.next((f) => f.type === 'agent.run.delta' && f.runId === runId)

    await removeMember(bob, conv, bob.userId) // bob leaves
    const isRemoval = (f: Record<string, any>) => f.type === 'member.removed' && f.conversationId === conv && f.userId === bob.userId
    await bobSocket.next(isRemoval)
    const failed = await carolSocket.next((f) => f.type === 'agent.run.failed' && f.runId === runId)
    t.equal(failed.reason, 'access_revoked')
    t.match(await h.waitRun(bob, agent.id, runId), { status: 'failed', failure: { reason: 'access_revoked' } })
    await sleep(100)
    t.same(after(bobSocket, runId, isRemoval), [], 'nothing more to the user who left')
    t.notOk(
      (await h.history(alice, conv)).some((m) => m.author.kind === 'agent'),
      'nothing posted'
    )
  })

  await t.test('deleting the conversation stops delivery to everyone and ends the run', async (t) => {
    const conv = await h.conversation(alice, [bob])
    const aliceSocket = await h.socket(alice)
    const bobSocket = await h.socket(bob)
    const agent = await h.createAgent(alice)
    const runId = (await h.startRun(alice, agent.id, conv, SLOW_RUN)).json().id as string
    await bobSocket.next((f) => f.type === 'agent.run.delta' && f.runId === runId)

    const del = await h.call(h.chat, alice, 'DELETE', `/api/chat/conversations/${conv}`)
    t.equal(del.statusCode, 204)
    const isDeletion = (f: Record<string, any>) => f.type === 'conversation.deleted' && f.conversationId === conv
    await aliceSocket.next(isDeletion)
    await bobSocket.next(isDeletion)
    t.match(await h.waitRun(alice, agent.id, runId), { status: 'failed', failure: { reason: 'access_revoked' } }, 'the run ended')
    await sleep(300)
    t.same(after(aliceSocket, runId, isDeletion), [], 'nothing more to the owner')
    t.same(after(bobSocket, runId, isDeletion), [], 'nothing more to the member')
  })

  await t.test('a lost membership event: the periodic re-check stops delivery within a heartbeat', async (t) => {
    const conv = await h.conversation(alice, [bob, carol])
    const bobSocket = await h.socket(bob)
    const carolSocket = await h.socket(carol)
    const agent = await h.createAgent(alice)
    const runId = (await h.startRun(alice, agent.id, conv, SLOW_RUN)).json().id as string
    await bobSocket.next((f) => f.type === 'agent.run.delta' && f.runId === runId)

    // As if chat crashed between its commit and its publish: the membership ends, no event says so.
    await h.chat.pg.query('DELETE FROM chat.members WHERE conversation_id = $1 AND user_id = $2', [conv, bob.userId])
    await sleep(HEARTBEAT_MS * 3)
    const seen = runFrames(bobSocket, runId).length
    await carolSocket.next((f) => f.type === 'agent.run.completed' && f.runId === runId, 15_000)
    await sleep(100)
    t.equal(runFrames(bobSocket, runId).length, seen, 'nothing more to the removed member once the re-check saw it')
    t.ok(runFrames(carolSocket, runId).length > seen, 'the remaining member got the rest')

    // The run's own user, removed the same silent way: the run ends.
    const second = (await h.startRun(alice, agent.id, conv, SLOW_RUN)).json().id as string
    await carolSocket.next((f) => f.type === 'agent.run.delta' && f.runId === second)
    await h.chat.pg.query('DELETE FROM chat.members WHERE conversation_id = $1 AND user_id = $2', [conv, carol.userId])
    await h.chat.pg.query("UPDATE chat.members SET role = 'member' WHERE conversation_id = $1 AND user_id = $2", [conv, alice.userId])
    await h.chat.pg.query('DELETE FROM chat.members WHERE conversation_id = $1 AND user_id = $2', [conv, alice.userId])
    t.match(await h.waitRun(alice, agent.id, second, 5_000), { status: 'failed', failure: { reason: 'access_revoked' } })
  })
})

// The periodic re-check is slowed right down here: what keeps bob out is chat's answer alone.
test('a member removed while the post waits: neither the message nor the run’s end reaches them', async (t) => {
  const h = await startAgents(t, { gateway: true, agents: { AGENTS_RUNS_PER_MINUTE: 1000, AGENTS_HEARTBEAT_MS: 60_000 } })
  const alice = await h.user()
  const bob = await h.user()
  const carol = await h.user()

  /** Until an agent message waits for its conversation's lock: a state PostgreSQL shows, not a guess. */
  async function waitForLockedPost(): Promise<void> {
    const deadline = Date.now() + 15_000
    for (;;) {
      const waiting = await h.chat.pg.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FROM chat.conversations WHERE id = $1 FOR NO KEY UPDATE%'`
      )
      if (waiting.rows[0].n > 0) return
      if (Date.now() > deadline) throw new Error('the agent message never waited for the conversation lock')
      await sleep(20)
    }
  }
  const conv = await h.conversation(alice, [bob, carol])
  const bobSocket = await h.socket(bob)
  const carolSocket = await h.socket(carol)
  const agent = await h.createAgent(alice)
  // A removal in progress, as chat's removeMember does it, held open: the member row is gone in
  // its snapshot and the conversation row is locked until it commits. No membership event is ever
  // published, so the agents service still counts bob in its audience.
  const removal = await h.chat.pg.connect()
  t.teardown(() => removal.release())
  await removal.query('BEGIN')
  await removal.query('DELETE FROM chat.members WHERE conversation_id = $1 AND user_id = $2', [conv, bob.userId])
  await removal.query('UPDATE chat.conversations SET member_count = member_count - 1 WHERE id = $1', [conv])

  const runId = (await h.startRun(alice, agent.id, conv, 'short answer')).json().id as string
  // The run's post reaches chat and waits for the conversation's lock (a state PostgreSQL shows,
  // not a guess of how long it takes).
  await waitForLockedPost()
  t.ok(
    bobSocket.frames.some((f) => f.type === 'agent.run.delta' && f.runId === runId),
    'bob, still a member then, saw the stream'
  )
  await removal.query('COMMIT')

  const completed = await carolSocket.next((f) => f.type === 'agent.run.completed' && f.runId === runId, 15_000)
  await carolSocket.next((f) => f.type === 'message.created' && f.message.id === completed.messageId)
  // Both frames go out together; a later frame to bob (a message from carol) shows his socket has
  // caught up past them.
  const marker = await h.say(carol, conv, 'after the run')
  await h.call(h.chat, alice, 'POST', `/api/chat/conversations/${conv}/members`, { userId: bob.userId })
  const marker2 = await h.say(carol, conv, 'bob is back')
  await bobSocket.next((f) => f.type === 'message.created' && f.message.id === marker2.id)
  t.notOk(
    bobSocket.frames.some((f) => f.type === 'message.created' && f.message.id === completed.messageId),
    'the message was not sent to the removed member'
  )
  t.notOk(
    bobSocket.frames.some((f) => f.type === 'agent.run.completed' && f.runId === runId),
    'nor the run’s end'
  )
  t.notOk(
    bobSocket.frames.some((f) => f.type === 'message.created' && f.message.id === marker.id),
    'nor anything else while out'
  )

  // The other side of the same lock: someone joins while the post waits, and the run read beyond
  // its conversation (a conversation all members then could read, the newcomer cannot).
  const dave = await h.user()
  const ab = await h.conversation(alice, [bob])
  const abd = await h.conversation(alice, [bob, carol])
  await h.say(carol, abd, 'falcon ships friday')
  const reader = await h.createAgent(alice, { tools: ['chat.search'] })
  const adding = await h.chat.pg.connect()
  t.teardown(() => adding.release())
  await adding.query('BEGIN')
  await adding.query("INSERT INTO chat.members (conversation_id, user_id, role) VALUES ($1, $2, 'member')", [ab, dave.userId])
  await adding.query('UPDATE chat.conversations SET member_count = member_count + 1 WHERE id = $1', [ab])
  const readRun = (await h.startRun(alice, reader.id, ab, `@tool chat_search {"query":"falcon","conversationId":"${abd}"}`)).json().id as string
  await waitForLockedPost()
  await adding.query('COMMIT')
  const ended = await h.waitRun(alice, reader.id, readRun)
  t.match(ended, { status: 'failed', failure: { reason: 'audience_changed' } }, 'a newcomer outside the checked audience: the run stops')
  t.notOk(
    (await h.history(alice, ab)).some((m) => m.author.kind === 'agent'),
    'and nothing it read reaches the newcomer'
  )
})

import t from 'tap'
import { runDay } from '../src/bench/day.js'
import { parseDayArgs } from '../src/bench/day-options.js'

/**
 * `pnpm bench day --quick`: the whole stack on the small seed, a few dozen people signed in through
 * the edge, one short step — so the scenario, its sign-in and its report keep working. It checks
 * the report's fields and that nothing failed, never a timing (this machine is shared and loaded).
 */
t.test('pnpm bench day --quick runs and reports', async (t) => {
  const defaults = parseDayArgs([])
  t.same([defaults.uploadEvery, defaults.runEvery, defaults.agentPeople], [30, 60, 10], 'uploads, runs and agent users by default')
  t.equal(defaults.accessTtl, undefined, "auth's own access-token lifetime by default")
  t.equal(parseDayArgs(['--access-ttl=60']).accessTtl, 60)
  // uploads and runs more often than by default, so that a 10 s step has some (all 30 people
  // without an upload: (2/3)^30; all 6 agent users without a run: (1/3)^6), and no more
  const opts = parseDayArgs(['--quick', '--upload-every=10', '--run-every=5', '--agent-people=20'])
  t.same(opts.steps, [30], 'one small step')
  t.same([opts.uploadEvery, opts.runEvery, opts.agentPeople], [10, 5, 20])
  const report = await runDay({ ...opts, log: (line) => t.comment(line) })
  t.equal(report.steps.length, 1)
  const step = report.steps[0]!
  t.equal(step.people, 30, 'every person signed in and connected')
  t.equal(step.realPacePeople, 30 * opts.compress)
  t.ok(step.messages > 0, 'messages were sent')
  t.same(step.errors, {}, 'no errors: every request a 200, every message on every connected member’s socket')
  t.equal(step.delivery.missing, 0)
  t.ok(step.warmupDelivery.max >= step.warmupDelivery.p99 && step.warmupDelivery.p99 > 0, 'warm-up delivery (the connect wave)')
  t.equal(step.refreshes, 0, 'no session refreshed: access tokens outlive a quick run')
  t.equal(step.reconnects, 0, 'nor a socket reconnected')
  t.ok(step.delivery.p50 > 0 && step.delivery.p99 >= step.delivery.p50 && step.delivery.max >= step.delivery.p99, 'delivery percentiles')
  for (const route of [
    'GET /api/chat/conversations',
    'GET /api/chat/conversations/:id/messages',
    'GET /api/chat/search',
    'POST /api/files',
    'POST /api/agents/:id/runs'
  ]) {
    t.ok(step.routes[route]?.n, `${route} was called`)
    t.ok(step.routes[route]!.p99 > 0, `${route} p99`)
  }
  for (const process of ['edge', 'auth', 'gateway', 'chat', 'files', 'agents', 'nats', 'postgres']) {
    t.type(step.cpuUsPerAction[process], 'number', `CPU per action of ${process}`)
  }
  t.ok(step.cpuUsPerAction.chat! > 0 && step.cpuUsPerAction.gateway! > 0, 'chat and gateway did the work')
  t.ok(step.agentRuns.n > 0, 'agent runs completed on their starters’ sockets')
  t.ok(step.agentRuns.p50 > 0 && step.agentRuns.p99 >= step.agentRuns.p50 && step.agentRuns.max >= step.agentRuns.p99, 'run percentiles')
  t.ok(step.cpuUsPerUpload > 0 && step.cpuUsPerRun > 0, 'files CPU per upload and agents CPU per run')
  t.type(step.rssKiBPerPerson, 'number')
  t.type(step.loadAverage, 'number')
  t.type(report.limit, 'number')
  t.type(report.stoppedBy, 'string')
})

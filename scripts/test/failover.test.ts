import t from 'tap'
import { QUICK_RUN, runFailover } from '../src/failover/run.js'
import { renderReport } from '../src/failover/report.js'

// The short version of `pnpm failover` (docs/failover.md): two instances of auth, gateway and chat,
// three NATS nodes and a PostgreSQL of its own; under load one instance of each of them is killed,
// then a NATS node, then PostgreSQL is restarted. Real processes throughout. About 3 minutes, most of
// it starting the stack (longer on a loaded machine).
t.setTimeout(420_000)

t.test('several instances survive losing any one of them', async (t) => {
  const report = await runFailover({ ...QUICK_RUN, log: (l) => t.comment(l) })
  t.comment(renderReport(report))

  t.ok(report.acknowledged > 100, `messages acknowledged under load (${report.acknowledged})`)
  t.equal(report.lost, 0, 'every acknowledged message is stored')
  t.equal(report.duplicated, 0, 'none twice, client retries included')
  t.equal(report.storedOnce, report.acknowledged, 'each exactly once')
  t.equal(report.unconfirmed, 0, 'every send was confirmed in the end')
  t.equal(report.missingDeliveries, 0, 'every acknowledged message reached every member (socket or catch-up)')
  t.ok(report.viaCatchUp + report.retriedOverHttp > 0, 'the faults were felt: catch-up or HTTP retries happened')
  for (const f of report.faults) {
    t.ok(f.ok, `${f.name}: recovered${f.notes.length ? ` (${f.notes.join('; ')})` : ''}`)
    t.ok(f.recoveryMs !== null, `${f.name}: recovery measured`)
  }
  t.same(
    report.faults.map((f) => f.name.replace(/#\d+| palisade-\d+/, '')),
    ['kill -9 gateway', 'kill -9 chat', 'kill -9 auth', 'kill -9 nats-server', 'PostgreSQL restart'],
    'every fault ran'
  )
  for (const c of report.checks) t.ok(c.ok, `${c.name}: ${c.detail}`)
})

// `pnpm failover`: the stack in instances mode under steady load while one instance of each service,
// one NATS node and PostgreSQL fail in turn (docs/failover.md). Prints the report; exits 1 when a
// property did not hold. `--quick` is the short CI version; `--only chat,nats,postgres` picks faults;
// `--log FILE` keeps the stack's output; `--json` prints the report as JSON.
import { parseArgs } from 'node:util'
import { FULL_RUN, QUICK_RUN, runFailover } from './failover/run.js'
import { passed, renderReport } from './failover/report.js'

const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    people: { type: 'string' },
    only: { type: 'string' },
    log: { type: 'string' }
  }
})
const base = values.quick ? QUICK_RUN : FULL_RUN
const only = values.only?.split(',')
const run = only
  ? { ...base, kill: base.kill.filter((s) => only.includes(s)), natsFault: only.includes('nats'), postgresFault: only.includes('postgres') }
  : base
const people = values.people ? Number(values.people) : run.people
if (!Number.isInteger(people) || people < 2 || people > 100) {
  process.stderr.write('--people must be a whole number from 2 to 100\n')
  process.exit(2)
}
const started = Date.now()
const report = await runFailover({
  ...run,
  people,
  ...(values.log ? { stackLog: values.log } : {}),
  log: (l) => process.stderr.write(`failover: ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s  ${l}\n`)
})
process.stdout.write(
  values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderReport(report)}\n  wall clock ${Math.round((Date.now() - started) / 1000)} s\n`
)
process.exit(passed(report) ? 0 : 1)

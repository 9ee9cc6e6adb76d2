/**
 * `pnpm bench [name...] [--duration=5] [--connections=50] [--warmup=1] [--rounds=5] [--strict]`
 *
 * Starts a Fastify hello-world and every registered bench whose name contains one of the given
 * filters (all when none), measures each HTTP target right after a hello-world slice of its own,
 * over several rounds, and prints req/s, p50/p99 (the paired hello-world's p99 beside), server CPU
 * per request and the medians of the per-round ratios to hello-world.
 * Goals are reported PASS/FAIL; with --strict a failed goal makes the exit code 1.
 *
 * Adding a bench: write `src/bench/<name>.ts` exporting a `Bench` (see framework.ts) and list it below.
 */
import { checkGoals, combine, formatTable, measure, startHelloWorld, type Bench, type BenchInstance, type Measurement, type RunOptions } from './framework.js'
import { verifyBench } from './verify.js'
import { edgeBench } from './edge.js'
import { agentsBench } from './agents.js'
import { filesBench } from './files.js'
import { chatBench } from './chat.js'
import { gatewayBench } from './gateway.js'
import { markdownBench } from './markdown.js'
import { searchBench } from './search.js'
import { firstLoadBench } from './first-load.js'

export const BENCHES: Bench[] = [verifyBench, edgeBench, agentsBench, filesBench, chatBench, gatewayBench, searchBench, markdownBench, firstLoadBench]

function parseArgs(argv: string[]): { filters: string[]; opts: RunOptions; strict: boolean } {
  const opts: RunOptions = { connections: 50, durationSeconds: 5, warmupSeconds: 1, rounds: 5 }
  const filters: string[] = []
  let strict = false
  for (const a of argv) {
    const m = /^--(duration|connections|warmup|rounds)=(\d+)$/.exec(a)
    if (m) {
      const n = Number(m[2])
      if (m[1] === 'duration') opts.durationSeconds = n
      else if (m[1] === 'connections') opts.connections = n
      else if (m[1] === 'rounds') opts.rounds = Math.max(1, n)
      else opts.warmupSeconds = n
    } else if (a === '--strict') strict = true
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        `usage: pnpm bench [name...] [--duration=s] [--connections=n] [--warmup=s] [--rounds=n] [--strict]\n       pnpm bench day [--quick] [--steps=250,500] [--seconds=45] [--warmup=10] [--compress=10] [--clients=4] [--upload-every=30] [--run-every=60] [--agent-people=10]\nbenches: ${BENCHES.map((b) => b.name).join(', ')}\n`
      )
      process.exit(0)
    } else if (a.startsWith('-')) throw new Error(`unknown option ${a}`)
    else filters.push(a.toLowerCase())
  }
  return { filters, opts, strict }
}

async function main(): Promise<number> {
  const { filters, opts, strict } = parseArgs(process.argv.slice(2).filter((a) => a !== '--'))
  const selected = BENCHES.filter((b) => filters.length === 0 || filters.some((f) => b.name.toLowerCase().includes(f)))
  if (selected.length === 0) {
    process.stderr.write(`no bench matches ${filters.join(', ')} (have: ${BENCHES.map((b) => b.name).join(', ')})\n`)
    return 2
  }
  process.stdout.write(
    `${opts.connections} connections, ${opts.durationSeconds} s per target after ${opts.warmupSeconds} s warm-up, ` +
      `${opts.rounds} round(s), each target right after a hello-world slice of its own (medians shown)\n`
  )
  const hello = await startHelloWorld()
  const instances: { bench: Bench; instance: BenchInstance }[] = []
  const samples = new Map<string, Measurement[]>()
  const keep = (m: Measurement) => samples.set(m.name, [...(samples.get(m.name) ?? []), m])
  /** names of the rows each instance measured itself (BenchInstance.measure) */
  const measured = new Map<BenchInstance, string[]>()
  const failed = new Map<BenchInstance, string>()
  try {
    for (const bench of selected) {
      process.stdout.write(`setting up ${bench.name}: ${bench.description}\n`)
      instances.push({ bench, instance: await bench.setup() })
    }
    // Every target is measured right after a hello-world slice of its own and compared with that
    // one: this VM's speed drifts within a minute, and a baseline taken at another moment would
    // turn the drift into the ratio. Rounds repeat the pairs; the table shows medians.
    for (let round = 1; round <= opts.rounds; round++) {
      for (const { instance } of instances) {
        for (const target of instance.targets) {
          const baseline = await measure({ name: BASELINE, url: hello.url }, opts)
          keep(baseline)
          keep({ ...(await measure(target, opts)), baseline })
        }
      }
      // Benches without HTTP targets still get a baseline row to read their numbers against.
      if (!samples.has(BASELINE)) keep(await measure({ name: BASELINE, url: hello.url }, opts))
      for (const { bench, instance } of instances) {
        if (!instance.measure || failed.has(instance)) continue
        try {
          const own = await instance.measure(opts)
          measured.set(
            instance,
            own.map((m) => m.name)
          )
          own.forEach(keep)
        } catch (err) {
          // One bench failing must not throw away every other bench's numbers.
          failed.set(instance, `${bench.name}: ${(err as Error).message}`)
          process.stdout.write(`${bench.name} failed in round ${round}: ${(err as Error).message}\n`)
        }
      }
      process.stdout.write(`round ${round}/${opts.rounds} done\n`)
    }
  } finally {
    await hello.close()
    for (const { instance } of instances) await instance.teardown()
  }
  const baseline = combine(samples.get(BASELINE)!)
  const rows: Measurement[] = [baseline]
  const goalLines: string[] = []
  let allOk = true
  for (const { instance } of instances) {
    const failure = failed.get(instance)
    if (failure) {
      goalLines.push(`FAIL ${failure}`)
      allOk = false
    }
    const names = [...instance.targets.map((t) => t.name), ...(measured.get(instance) ?? [])].filter((name) => samples.has(name))
    const benchRows = names.map((name) => combine(samples.get(name)!))
    rows.push(...benchRows)
    const verdict = checkGoals(instance.goals ?? [], benchRows)
    goalLines.push(...verdict.lines)
    allOk &&= verdict.ok
  }
  process.stdout.write(`\n${formatTable(rows, baseline)}\n\n`)
  if (goalLines.length > 0) process.stdout.write(`${goalLines.join('\n')}\n`)
  return strict && !allOk ? 1 : 0
}

const BASELINE = 'fastify hello-world (baseline)'

const argv = process.argv.slice(2).filter((a) => a !== '--')
// The day scenario steps a whole stack up instead of pairing targets with hello-world slices.
process.exitCode = argv[0] === 'day' ? await (await import('./day.js')).dayMain(argv.slice(1)) : await main()

/**
 * `pnpm bench [name...] [--duration=10] [--connections=50] [--warmup=2] [--strict]`
 *
 * Starts a Fastify hello-world, measures it, then every registered bench whose name contains one of
 * the given filters (all when none), and prints req/s, p50/p99 and the ratio to hello-world.
 * Goals are reported PASS/FAIL; with --strict a failed goal makes the exit code 1.
 *
 * Adding a bench: write `src/bench/<name>.ts` exporting a `Bench` (see framework.ts) and list it below.
 */
import { checkGoals, formatTable, measure, startHelloWorld, type Bench, type Measurement, type RunOptions } from './framework.js'
import { verifyBench } from './verify.js'
import { edgeBench } from './edge.js'

export const BENCHES: Bench[] = [verifyBench, edgeBench]

function parseArgs(argv: string[]): { filters: string[]; opts: RunOptions; strict: boolean } {
  const opts: RunOptions = { connections: 50, durationSeconds: 10, warmupSeconds: 2 }
  const filters: string[] = []
  let strict = false
  for (const a of argv) {
    const m = /^--(duration|connections|warmup)=(\d+)$/.exec(a)
    if (m) {
      const n = Number(m[2])
      if (m[1] === 'duration') opts.durationSeconds = n
      else if (m[1] === 'connections') opts.connections = n
      else opts.warmupSeconds = n
    } else if (a === '--strict') strict = true
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: pnpm bench [name...] [--duration=s] [--connections=n] [--warmup=s] [--strict]\nbenches: ${BENCHES.map((b) => b.name).join(', ')}\n`)
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
  process.stdout.write(`${opts.connections} connections, ${opts.durationSeconds} s per target after ${opts.warmupSeconds} s warm-up\n`)
  const hello = await startHelloWorld()
  let baseline: Measurement
  try {
    baseline = await measure({ name: 'fastify hello-world (baseline)', url: hello.url }, opts)
  } finally {
    await hello.close()
  }
  const rows: Measurement[] = [baseline]
  const goalLines: string[] = []
  let allOk = true
  for (const bench of selected) {
    process.stdout.write(`running ${bench.name}: ${bench.description}\n`)
    const instance = await bench.setup()
    try {
      const benchRows: Measurement[] = []
      for (const target of instance.targets) benchRows.push(await measure(target, opts))
      rows.push(...benchRows)
      const verdict = checkGoals(instance.goals ?? [], benchRows, baseline)
      goalLines.push(...verdict.lines)
      allOk &&= verdict.ok
    } finally {
      await instance.teardown()
    }
  }
  process.stdout.write('\n' + formatTable(rows, baseline) + '\n\n')
  if (goalLines.length > 0) process.stdout.write(goalLines.join('\n') + '\n')
  return strict && !allOk ? 1 : 0
}

process.exitCode = await main()

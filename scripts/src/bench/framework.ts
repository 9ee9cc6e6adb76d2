/**
 * A small benchmark framework: every bench runs against a Fastify hello-world started in the same
 * run, so results are reported as ratios that mean something on a shared, noisy machine.
 *
 * A bench module exports a `Bench`: `setup()` starts whatever it measures and returns targets
 * (HTTP requests to fire) plus optional goals; `teardown()` stops it. Register it in `index.ts`.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import type autocannon from 'autocannon'
type LoadOptions = Parameters<typeof autocannon>[0]
type LoadResult = Awaited<ReturnType<typeof autocannon>>

export interface BenchTarget {
  /** row label in the table */
  name: string
  url: string
  method?: string
  headers?: Record<string, string>
  body?: string
  /** every response must have this status, else the row is marked as failing (default 200) */
  expectStatus?: number
  /**
   * For servers running outside this process (e.g. a stack of child processes): their cumulative
   * CPU time in µs. When set, the row's CPU per request is the delta of this instead of this
   * process's own CPU time.
   */
  serverCpuMicros?: () => number
}

export interface Goal {
  target: string
  /** minimum req/s as a fraction of the hello-world baseline measured beside it (0.6 = 60 %) */
  minRatio?: number
  /** maximum of the row's p99 column, in `unit` (milliseconds unless said otherwise) */
  maxP99Ms?: number
  /** what the p99 column of this row counts, for the verdict line (default 'ms') */
  unit?: string
  /** maximum of the row's CPU column (server CPU per request or action), in µs */
  maxCpuUs?: number
  /** the row's CPU column may be no more than that of this other row: an anchor measured in the same run */
  maxCpuOf?: string
}

export interface BenchInstance {
  targets: BenchTarget[]
  goals?: Goal[]
  /**
   * Rows the bench measures itself, for latencies that are not HTTP responses (e.g. events arriving
   * on a WebSocket); reported and goal-checked like target rows.
   */
  measure?(opts: RunOptions): Promise<Measurement[]>
  teardown(): Promise<void>
}

export interface Bench {
  /** used for filtering: `pnpm bench verify` */
  name: string
  description: string
  setup(): Promise<BenchInstance>
}

export interface RunOptions {
  connections: number
  durationSeconds: number
  warmupSeconds: number
  /** baseline and targets are measured alternately this many times; the table shows medians */
  rounds: number
}

export interface Measurement {
  name: string
  /**
   * The hello-world slice measured right before this one (HTTP targets). This VM's speed drifts by
   * up to 1.6× within a minute; a target is compared with the baseline of its own moment, not with
   * a baseline taken a minute earlier or later.
   */
  baseline?: Measurement
  /** combined rows: median over rounds of req/s ÷ the paired baseline's req/s */
  ratio?: number
  /** combined rows: median over rounds of the paired baseline's CPU per request ÷ this row's */
  cpuRatio?: number
  reqPerSec: number
  p50: number
  p99: number
  /** CPU time this process (the server side) spent per request, in microseconds */
  cpuUsPerReq: number
  errors: number
  unexpected: number
}

const RUNNER = fileURLToPath(new URL('./load-runner.mjs', import.meta.url))

/** Runs autocannon in a child process (see load-runner.mjs) and returns its result. */
function runLoad(opts: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`))
      try {
        resolve(JSON.parse(out) as LoadResult)
      } catch (err) {
        reject(err)
      }
    })
  })
}

/** A stream that swallows log lines, for services started only to be measured. */
export function discardStream(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() })
}

/** The baseline: what Fastify itself does on this machine right now. */
export async function startHelloWorld(): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify({ logger: false })
  app.get('/', async () => ({ hello: 'world' }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}/`, close: () => app.close() }
}

/**
 * Fires one target. The server under test lives in this process; the load generator runs in a
 * child process, so this process's CPU time during the run is the server's cost. On a shared,
 * busy machine req/s swings with everybody else's load; CPU µs per request does not, and the two
 * ratios side by side tell noise from regressions.
 */
export async function measure(target: BenchTarget, opts: RunOptions): Promise<Measurement> {
  const base = {
    url: target.url,
    method: target.method ?? 'GET',
    headers: target.headers ?? {},
    ...(target.body !== undefined ? { body: target.body } : {}),
    connections: opts.connections,
    timeout: 10
  }
  if (opts.warmupSeconds > 0) await runLoad({ ...base, duration: opts.warmupSeconds })
  const cpuBefore = process.cpuUsage()
  const externalBefore = target.serverCpuMicros?.() ?? 0
  const r = await runLoad({ ...base, duration: opts.durationSeconds })
  const own = process.cpuUsage(cpuBefore)
  const cpu = target.serverCpuMicros ? { user: target.serverCpuMicros() - externalBefore, system: 0 } : own
  const expected = target.expectStatus ?? 200
  const ok = expected >= 200 && expected < 300 ? r['2xx'] : 0
  const total = r.requests.total
  return {
    name: target.name,
    reqPerSec: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    cpuUsPerReq: total > 0 ? (cpu.user + cpu.system) / total : 0,
    errors: r.errors + r.timeouts,
    unexpected: expected >= 200 && expected < 300 ? Math.max(0, total - ok) : 0
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/**
 * Per-field median of several rounds of one target; errors are summed. Ratios are medians of the
 * per-round ratios to each round's own baseline slice (paired), which cancels the machine's drift;
 * the combined `baseline` is the median of those slices, for their p99 beside the target's.
 */
export function combine(rounds: Measurement[]): Measurement {
  const paired = rounds.filter((r): r is Measurement & { baseline: Measurement } => r.baseline !== undefined)
  const pairing =
    paired.length === rounds.length && paired.length > 0
      ? {
          baseline: combine(paired.map((r) => r.baseline)),
          ratio: median(paired.map((r) => r.reqPerSec / r.baseline.reqPerSec)),
          cpuRatio: median(paired.map((r) => (r.cpuUsPerReq > 0 ? r.baseline.cpuUsPerReq / r.cpuUsPerReq : 0)))
        }
      : {}
  return {
    name: rounds[0]!.name,
    ...pairing,
    reqPerSec: median(rounds.map((r) => r.reqPerSec)),
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    cpuUsPerReq: median(rounds.map((r) => r.cpuUsPerReq)),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    unexpected: rounds.reduce((n, r) => n + r.unexpected, 0)
  }
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n)
}

const percent = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(1)} %`)

/**
 * One line per row. The ratio columns and "hello p99" compare an HTTP target with the hello-world
 * slices paired with it; rows a bench measured itself (WebSocket arrivals, uploads) have no
 * baseline and show '—' there.
 */
export function formatTable(rows: Measurement[], baseline: Measurement): string {
  const header = ['target', 'req/s', 'p50 ms', 'p99 ms', 'hello p99', 'vs hello', 'CPU µs/req', 'CPU vs hello', 'errors']
  const lines = rows.map((r) => {
    const self = r === baseline
    return [
      r.name,
      r.reqPerSec.toFixed(0),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      self ? r.p99.toFixed(2) : r.baseline ? r.baseline.p99.toFixed(2) : '—',
      percent(self ? 1 : r.ratio),
      r.cpuUsPerReq > 0 ? r.cpuUsPerReq.toFixed(1) : '—',
      percent(self ? 1 : r.cpuRatio),
      String(r.errors + r.unexpected)
    ]
  })
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const fmt = (cells: string[]) => cells.map((c, i) => pad(c, widths[i]!, i > 0)).join('  ')
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n')
}

export function checkGoals(goals: Goal[], rows: Measurement[]): { ok: boolean; lines: string[] } {
  const lines: string[] = []
  let ok = true
  for (const g of goals) {
    const r = rows.find((x) => x.name === g.target)
    if (!r) {
      ok = false
      lines.push(`FAIL ${g.target}: not measured`)
      continue
    }
    if (g.minRatio !== undefined) {
      const pass = r.ratio !== undefined && r.ratio >= g.minRatio
      ok &&= pass
      lines.push(`${pass ? 'PASS' : 'FAIL'} ${g.target}: ${percent(r.ratio)} of hello-world req/s (goal ≥ ${(g.minRatio * 100).toFixed(0)} %)`)
    }
    if (g.maxP99Ms !== undefined) {
      const pass = r.p99 <= g.maxP99Ms
      const unit = g.unit ?? 'ms'
      const beside = r.baseline ? `; hello-world beside it: ${r.baseline.p99.toFixed(2)} ${unit}` : ''
      ok &&= pass
      lines.push(`${pass ? 'PASS' : 'FAIL'} ${g.target}: p99 ${r.p99.toFixed(2)} ${unit} (goal ≤ ${g.maxP99Ms} ${unit}${beside})`)
    }
    if (g.maxCpuUs !== undefined) {
      const pass = r.cpuUsPerReq > 0 && r.cpuUsPerReq <= g.maxCpuUs
      ok &&= pass
      lines.push(`${pass ? 'PASS' : 'FAIL'} ${g.target}: server CPU ${r.cpuUsPerReq.toFixed(0)} µs each (goal ≤ ${g.maxCpuUs} µs)`)
    }
    if (g.maxCpuOf !== undefined) {
      const anchor = rows.find((x) => x.name === g.maxCpuOf)
      const pass = anchor !== undefined && r.cpuUsPerReq > 0 && r.cpuUsPerReq <= anchor.cpuUsPerReq
      ok &&= pass
      const against = anchor ? `${anchor.cpuUsPerReq.toFixed(0)} µs (${(r.cpuUsPerReq / anchor.cpuUsPerReq).toFixed(2)}×)` : 'not measured'
      lines.push(`${pass ? 'PASS' : 'FAIL'} ${g.target}: CPU ${r.cpuUsPerReq.toFixed(0)} µs each (goal ≤ ${g.maxCpuOf}: ${against})`)
    }
    if (r.errors + r.unexpected > 0) {
      ok = false
      lines.push(`FAIL ${g.target}: ${r.errors} errors, ${r.unexpected} unexpected responses`)
    }
  }
  return { ok, lines }
}

/**
 * Cleanups of a bench's setup: `host` is what the testkit registers its teardowns with; `run`
 * undoes everything in reverse order, each step even when an earlier one failed.
 */
export function benchCleanups(): { host: { teardown(fn: () => unknown): void }; push(fn: () => unknown): void; run(): Promise<void> } {
  const fns: (() => unknown)[] = []
  const push = (fn: () => unknown) => void fns.push(fn)
  return {
    host: { teardown: push },
    push,
    async run() {
      for (const fn of fns.splice(0).reverse())
        await Promise.resolve()
          .then(fn)
          .catch(() => {})
    }
  }
}

export interface LatencySummary {
  n: number
  p50: number
  p90: number
  p99: number
  max: number
}

export function summarise(samples: number[]): LatencySummary {
  const s = [...samples].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? 0
  const r = (x: number) => Math.round(x * 100) / 100
  return { n: s.length, p50: r(at(0.5)), p90: r(at(0.9)), p99: r(at(0.99)), max: r(s[s.length - 1] ?? 0) }
}

/** A row of latencies measured by the bench itself (not HTTP responses): no CPU column. */
export function latencyRow(name: string, samples: number[], seconds: number): Measurement {
  const s = summarise(samples)
  return { name, reqPerSec: samples.length / seconds, p50: s.p50, p99: s.p99, cpuUsPerReq: 0, errors: 0, unexpected: 0 }
}

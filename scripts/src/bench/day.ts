/**
 * `pnpm bench day [--quick] [--steps=250,500,1000,2000,4000,8000] [--seconds=45] [--warmup=10] [--compress=10] [--clients=4]
 *   [--upload-every=30] [--run-every=60] [--agent-people=10] [--access-ttl=900]`
 *
 * The day scenario (issue #30): the whole stack as `pnpm start` runs it (launcher, local edge,
 * every service in its own process, nats-server) on a copy of the year's database (day-seed.ts),
 * and simulated people (day-clients.mjs, in a bounded number of client processes) signed in with
 * real cookies through the edge, each on a WebSocket, sending about one message a minute, opening a
 * conversation every few minutes, loading the conversation list and searching now and then,
 * uploading a small file every `--upload-every` minutes and — the `--agent-people` percent who use
 * an agent, created at sign-in — starting a run every `--run-every` minutes (day-actions.mjs; the
 * LLM is a local stand-in, day-llm.ts), on a clock compressed `--compress` times. The number of
 * people steps up until p99 delivery (send → the message on every connected member's socket)
 * passes 100 ms or an error appears.
 *
 * Sign-in: the seeded people have no accounts. One account is registered through the edge; its
 * argon2 hash (of a known password) is copied to an account per seeded person — bench-only rows in
 * the throwaway copy, no backdoor in the services — and each person then signs in with
 * POST /auth/login through the edge, as a browser would. Like the web client, a person whose access
 * token expired (a 401) refreshes the session with the refresh cookie and repeats the request;
 * `--access-ttl` shortens the tokens' life (auth's AUTH_ACCESS_TTL_SECONDS) to see that in a short
 * run.
 *
 * CPU per process: user+system time from /proc/<pid>/stat before and after each step, for the
 * launcher (which is the edge), each service, nats-server and the PostgreSQL backends connected to
 * the copy (backends that end within a step are missed). `--quick` (the test's mode) uses the small
 * seed, a few dozen people and one short step.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { AUTH_COOKIES } from '@palisade/contracts'
import { startThrowawayStack, type ThrowawayStack } from '../stack/throwaway.js'
import { dayDatabase, FULL_DAY, handOverSeed, QUICK_DAY } from './day-seed.js'
import { rssBytes, stackProcesses, statCpuUs } from './day-procs.js'
import { startDayLlm, type DayLlm } from './day-llm.js'
import { parseDayArgs, type DayOptions } from './day-options.js'

const CLIENTS = fileURLToPath(new URL('./day-clients.mjs', import.meta.url))
/** the upload's route as day-actions.mjs reports it */
const UPLOAD_ROUTE = 'POST /api/files'
const PASSWORD = 'day bench password, long enough'

export interface DayStep {
  people: number
  /** people acting at real pace that would send as many messages (people × compress) */
  realPacePeople: number
  loadAverage: number
  messages: number
  delivery: { p50: number; p99: number; max: number; missing: number }
  /** the same in the warm-up, right after the step's people connected (a connect wave) */
  warmupDelivery: { p99: number; max: number }
  routes: Record<string, { n: number; p50: number; p99: number }>
  /** agent runs: start request → agent.run.completed on the starter's socket */
  agentRuns: { n: number; p50: number; p99: number; max: number }
  /** CPU µs of the files service per upload and of the agents service per run: all their CPU in the step (idle timers included), 0 with none */
  cpuUsPerUpload: number
  cpuUsPerRun: number
  errors: Record<string, number>
  /** sessions refreshed after a 401 (access token expired), warm-up and step, as the web client does */
  refreshes: number
  /** sockets opened again after their lease ended with the access token (4002), as the web client does */
  reconnects: number
  /** CPU µs per message + request handled in the step, per process */
  cpuUsPerAction: Record<string, number>
  actions: number
  /** growth of the stack's RSS (all processes) per person connected in this step, KiB */
  rssKiBPerPerson: number
}

export interface DayReport {
  seed: string
  steps: DayStep[]
  /** people at the last step within p99 ≤ 100 ms and without errors (0: not even the first) */
  limit: number
  /** why stepping stopped */
  stoppedBy: string
}

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]! : 0)
const r1 = (x: number) => Math.round(x * 10) / 10

/** One client process (day-clients.mjs); one request at a time. */
class Clients {
  private readonly child: ChildProcess
  private waiter: ((m: Record<string, unknown>) => void) | undefined
  readonly ready: Promise<unknown>
  constructor() {
    this.child = fork(CLIENTS, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.ready = this.next()
    this.child.on('message', (m: Record<string, unknown>) => {
      const w = this.waiter
      this.waiter = undefined
      w?.(m)
    })
  }
  private next(): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.waiter = (m) => (m.error ? reject(new Error(String(m.error))) : resolve(m))
    })
  }
  async ask<T>(msg: Record<string, unknown>): Promise<T> {
    const reply = this.next()
    this.child.send(msg)
    return (await reply) as T
  }
  get pid(): number {
    return this.child.pid!
  }
  close(): void {
    if (this.child.exitCode === null) this.child.send({ cmd: 'close' })
  }
}

interface Person {
  id: string
  /** `name=value` of the access cookie, and of the refresh cookie (sent to POST /auth/refresh only) */
  cookie: string
  refreshCookie: string
  conversations: string[]
  /** the person's own loopback address (the edge caps connections per client address) */
  address: string
  /** creates an agent at sign-in and starts runs */
  usesAgent: boolean
}

/** What a client process answers to `run` (day-clients.mjs). */
interface RunResult {
  sent: [string, string][]
  arrivals: [string, number, number][]
  http: Record<string, number[]>
  runs: number[]
  errors: Record<string, number>
  refreshes: number
  reconnects: number
}

/** Each sent message's slowest arrival over every connected member's socket (the sender's own included); `missing`: arrived on fewer. */
function deliveries(results: RunResult[], membersOf: Map<string, string[]>, online: Set<string>) {
  const byKey = new Map<string, { n: number; ms: number }>()
  for (const res of results) {
    for (const [key, n, ms] of res.arrivals) {
      const a = byKey.get(key)
      if (a) {
        a.n += n
        a.ms = Math.max(a.ms, ms)
      } else byKey.set(key, { n, ms })
    }
  }
  const latencies: number[] = []
  let missing = 0
  let messages = 0
  for (const res of results) {
    for (const [key, conversationId] of res.sent) {
      messages++
      const expected = (membersOf.get(conversationId) ?? []).filter((u) => online.has(u)).length
      const a = byKey.get(key)
      if (!a || a.n < expected) missing++
      if (a) latencies.push(a.ms)
    }
  }
  latencies.sort((a, b) => a - b)
  return { latencies, missing, messages }
}

/** Person n's address in 127.0.0.0/8 (up to 64 000 people). */
const addressOf = (n: number) => `127.2.${Math.floor(n / 250)}.${1 + (n % 250)}`

export async function runDay(opts: DayOptions): Promise<DayReport> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`))
  const size = opts.quick ? QUICK_DAY : FULL_DAY
  const day = await dayDatabase(size, log)
  log(`day database (${size.messages.toLocaleString('en')} messages): seeded in ${day.seedMs} ms (0 = cached template), copied in ${day.copyMs} ms`)
  let stack: ThrowawayStack | undefined
  let llm: DayLlm | undefined
  const clients: Clients[] = []
  const db = new pg.Client({ connectionString: day.url })
  try {
    await db.connect()
    await handOverSeed(db, day.name)
    llm = await startDayLlm()
    stack = await startThrowawayStack({
      database: { name: day.name, url: day.url, drop: day.drop },
      readyTimeoutMs: 240_000,
      env: {
        PALISADE_LOG_LEVEL: 'warn',
        AUTH_RATE_LIMIT_PER_MINUTE: '1000000',
        CHAT_RATE_LIMIT_PER_MINUTE: '1000000',
        CHAT_MESSAGE_CACHE_MB: '64',
        ...(opts.accessTtl ? { AUTH_ACCESS_TTL_SECONDS: String(opts.accessTtl) } : {}),
        ...llm.env
      }
    })
    if (!stack.ready) throw new Error(`the stack did not start: ${stack.output().slice(-3000)}`)
    const base = `http://127.0.0.1:${stack.port}`
    const origin = stack.origin
    const post = (path: string, body: unknown) =>
      fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify(body) })
    // the first account (the installation's admin) only lends its password hash
    const reg = await post('/auth/register', { email: `day-admin-${Date.now()}@bench.palisade.example`, password: PASSWORD, displayName: 'Day admin' })
    if (reg.status !== 201) throw new Error(`register answered ${reg.status}: ${await reg.text()}`)
    const most = Math.max(...opts.steps)
    const seeded = await db.query<{ id: string; i: number }>('SELECT id, i FROM bench_seed.user_ids ORDER BY i LIMIT $1', [most])
    await db.query(
      `INSERT INTO auth.users (id, email, display_name, password_hash)
       SELECT u.id, 'day-' || u.i || '@bench.palisade.example', 'Person ' || u.i, a.password_hash
       FROM bench_seed.user_ids u, (SELECT password_hash FROM auth.users LIMIT 1) a WHERE u.i <= $1`,
      [seeded.rows.length]
    )
    const memberships = await db.query<{ user_id: string; ids: string[] }>(
      `SELECT user_id, array_agg(conversation_id::text) AS ids FROM chat.members WHERE user_id = ANY($1::uuid[]) GROUP BY user_id`,
      [seeded.rows.map((r) => r.id)]
    )
    const conversationsOf = new Map(memberships.rows.map((r) => [r.user_id, r.ids]))
    const membersOf = new Map<string, string[]>()
    for (const r of memberships.rows) for (const c of r.ids) membersOf.set(c, [...(membersOf.get(c) ?? []), r.user_id])

    for (let i = 0; i < Math.max(1, opts.clients); i++) clients.push(new Clients())
    await Promise.all(clients.map((c) => c.ready))

    const steps: DayStep[] = []
    const online = new Set<string>()
    let signedIn = 0
    let stoppedBy = `the last step (${most} people) was within bounds`
    let limit = 0
    for (const people of opts.steps) {
      // sign in and connect the people this step adds, spread over the client processes
      const added: { person: Person }[] = []
      const rows = seeded.rows.slice(signedIn, people).filter((r) => conversationsOf.has(r.id))
      let next = 0
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < rows.length) {
            const row = rows[next++]!
            const res = await post('/auth/login', { email: `day-${row.i}@bench.palisade.example`, password: PASSWORD })
            if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`)
            const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]!)
            const cookie = cookies.find((c) => c.startsWith(`${AUTH_COOKIES.access}=`))!
            const refreshCookie = cookies.find((c) => c.startsWith(`${AUTH_COOKIES.refresh}=`))!
            const usesAgent = opts.agentPeople > 0 && row.i % Math.max(1, Math.round(100 / opts.agentPeople)) === 0
            added.push({ person: { id: row.id, cookie, refreshCookie, conversations: conversationsOf.get(row.id)!, address: addressOf(row.i), usesAgent } })
          }
        })
      )
      signedIn = people
      const procs = stackProcesses(stack.child.pid!)
      const rssBefore = Object.values(procs).reduce((a, p) => a + rssBytes(p), 0)
      const connected = await Promise.all(
        clients.map((c, k) =>
          c.ask<{ ids: string[]; failed: Record<string, number> }>({
            cmd: 'connect',
            url: `ws://127.0.0.1:${stack!.port}/ws`,
            base,
            origin,
            people: added.filter((_, j) => j % clients.length === k).map((a) => a.person)
          })
        )
      )
      const connectFailures: Record<string, number> = {}
      for (const c of connected) for (const [reason, n] of Object.entries(c.failed)) connectFailures[reason] = (connectFailures[reason] ?? 0) + n
      const failedToConnect = Object.values(connectFailures).reduce((a, n) => a + n, 0)
      // a person whose socket did not open is not online (and is not expected to receive)
      for (const c of connected) for (const id of c.ids) online.add(id)
      const rssAfter = Object.values(procs).reduce((a, p) => a + rssBytes(p), 0)
      log(`step ${people}: ${online.size} people signed in and connected (${failedToConnect} failed), measuring ${opts.seconds} s`)

      const minute = 60 / opts.compress
      const every = { message: minute, open: 3 * minute, list: 3 * minute, search: 10 * minute, upload: opts.uploadEvery * minute, run: opts.runEvery * minute }
      const warmup = opts.warmup > 0 ? await Promise.all(clients.map((c) => c.ask<RunResult>({ cmd: 'run', base, origin, seconds: opts.warmup, every }))) : []
      const backends = (
        await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')
      ).rows.map((r) => r.pid)
      const cpu0 = Object.fromEntries(Object.entries(procs).map(([n, p]) => [n, statCpuUs(p)]))
      const pgCpu0 = backends.map(statCpuUs)
      const results = await Promise.all(clients.map((c) => c.ask<RunResult>({ cmd: 'run', base, origin, seconds: opts.seconds, every })))
      const cpu1 = Object.fromEntries(Object.entries(procs).map(([n, p]) => [n, statCpuUs(p)]))
      const pgCpu = backends.map(statCpuUs).reduce((a, x, i) => a + Math.max(0, x - pgCpu0[i]!), 0)

      const errors: Record<string, number> = {}
      const addError = (k: string, n: number) => (errors[k] = (errors[k] ?? 0) + n)
      for (const [reason, n] of Object.entries(connectFailures)) addError(`WebSocket connect: ${reason}`, n)
      for (const w of warmup) for (const [k, n] of Object.entries(w.errors)) addError(`${k} (warm-up)`, n)
      for (const res of results) for (const [k, n] of Object.entries(res.errors)) addError(k, n)
      const { latencies, missing, messages } = deliveries(results, membersOf, online)
      if (missing) addError('message not delivered to every connected member', missing)
      const warm = deliveries(warmup, membersOf, online)
      const routes: DayStep['routes'] = {}
      let requests = 0
      for (const route of new Set(results.flatMap((r) => Object.keys(r.http)))) routes[route] = { n: 0, p50: 0, p99: 0 }
      for (const route of Object.keys(routes)) {
        const times = results.flatMap((r) => r.http[route] ?? []).sort((a, b) => a - b)
        routes[route] = { n: times.length, p50: r1(percentile(times, 50)), p99: r1(percentile(times, 99)) }
        requests += times.length
      }
      const actions = messages + requests
      const cpuUsPerAction: Record<string, number> = {}
      for (const n of Object.keys(procs)) cpuUsPerAction[n] = r1((cpu1[n]! - cpu0[n]!) / Math.max(1, actions))
      cpuUsPerAction.postgres = r1(pgCpu / Math.max(1, actions))
      const runTimes = results.flatMap((r) => r.runs).sort((a, b) => a - b)
      // all of the service's CPU in the step (idle timers and other work too) over its actions; 0 without any
      const perAction = (name: string, n: number) => (n && procs[name] ? r1((cpu1[name]! - cpu0[name]!) / n) : 0)
      const step: DayStep = {
        people: online.size,
        realPacePeople: online.size * opts.compress,
        loadAverage: r1(loadavg()[0]!),
        messages,
        delivery: { p50: r1(percentile(latencies, 50)), p99: r1(percentile(latencies, 99)), max: r1(latencies.at(-1) ?? 0), missing },
        warmupDelivery: { p99: r1(percentile(warm.latencies, 99)), max: r1(warm.latencies.at(-1) ?? 0) },
        routes,
        agentRuns: { n: runTimes.length, p50: r1(percentile(runTimes, 50)), p99: r1(percentile(runTimes, 99)), max: r1(runTimes.at(-1) ?? 0) },
        cpuUsPerUpload: perAction('files', routes[UPLOAD_ROUTE]?.n ?? 0),
        cpuUsPerRun: perAction('agents', runTimes.length),
        errors,
        refreshes: [...warmup, ...results].reduce((a, r) => a + r.refreshes, 0),
        reconnects: [...warmup, ...results].reduce((a, r) => a + r.reconnects, 0),
        cpuUsPerAction,
        actions,
        rssKiBPerPerson: r1((rssAfter - rssBefore) / 1024 / Math.max(1, added.length))
      }
      steps.push(step)
      log(formatStep(step))
      const errorCount = Object.values(errors).reduce((a, b) => a + b, 0)
      if (step.delivery.p99 > 100 || errorCount > 0) {
        stoppedBy = errorCount > 0 ? `errors at ${step.people} people` : `p99 delivery ${step.delivery.p99} ms > 100 ms at ${step.people} people`
        break
      }
      limit = step.people
    }
    return { seed: `${size.users} users, ${size.conversations} conversations, ${size.messages} messages`, steps, limit, stoppedBy }
  } finally {
    for (const c of clients) c.close()
    await db.end().catch(() => {})
    if (stack) await stack.stop()
    else await day.drop()
    await llm?.close()
  }
}

export function formatStep(s: DayStep): string {
  const lines = [
    `— ${s.people} people (as many messages as ${s.realPacePeople} at real pace; load average ${s.loadAverage}): ${s.messages} messages, ${s.actions} actions`,
    `  delivery to every connected member: p50 ${s.delivery.p50} ms, p99 ${s.delivery.p99} ms, max ${s.delivery.max} ms, ${s.delivery.missing} incomplete` +
      ` (warm-up after connecting: p99 ${s.warmupDelivery.p99} ms, max ${s.warmupDelivery.max} ms)`,
    ...Object.entries(s.routes).map(([route, r]) => `  ${route}: n ${r.n}, p50 ${r.p50} ms, p99 ${r.p99} ms`),
    `  CPU µs per action (message or request): ${Object.entries(s.cpuUsPerAction)
      .map(([n, us]) => `${n} ${us}`)
      .join(', ')}`,
    `  agent runs, start → agent.run.completed on the starter's socket: n ${s.agentRuns.n}, p50 ${s.agentRuns.p50} ms, p99 ${s.agentRuns.p99} ms, max ${s.agentRuns.max} ms`,
    `  CPU µs of files per upload ${s.cpuUsPerUpload}, of agents per run ${s.cpuUsPerRun}`,
    `  stack RSS growth per person connected: ${s.rssKiBPerPerson} KiB`,
    `  sessions refreshed (access token expired), warm-up included: ${s.refreshes}; sockets reconnected after 4002: ${s.reconnects}`,
    `  errors: ${Object.keys(s.errors).length ? JSON.stringify(s.errors) : 'none'}`
  ]
  return lines.join('\n')
}

export async function dayMain(argv: string[]): Promise<number> {
  const opts = parseDayArgs(argv)
  const report = await runDay(opts)
  process.stdout.write(
    `\nlimit: ${report.limit} connected people at ${opts.compress}× real pace (the messages of ${report.limit * opts.compress} people at 1 a minute) ` +
      `with p99 delivery ≤ 100 ms and no errors; stopped by ${report.stoppedBy}\n`
  )
  return 0
}

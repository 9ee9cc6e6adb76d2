/**
 * The realtime path at scale: one conversation with 1,000 members, each with a socket on one
 * gateway. Measures
 *   - delivery latency from `message.send` on one socket to `message.created` on every socket
 *     (p50/p99 over all arrivals; goal p99 ≤ 50 ms), at a steady rate;
 *   - sustained messages/s with every message delivered to all sockets (a window of messages in
 *     flight, senders rotating over the members);
 *   - memory per idle socket on the gateway side (goal ≤ 20 KiB).
 *
 * Real auth, chat and gateway run as their own processes (throwaway database, private
 * nats-server); the 1,000 clients run in child processes (gateway-clients.mjs), so the gateway's
 * memory and CPU are its own. Memory: the gateway's V8 heap (+ external and array buffers) before
 * and after the sockets open, each after a forced GC (asked over its inspector port), divided by the
 * sockets open at its port; that is the number held against the goal. The RSS delta is printed too, but RSS barely moves (freed pages are reused), so it says little.
 *
 * Sockets: BENCH_GATEWAY_SOCKETS (default 1000); latency rows at BENCH_GATEWAY_RATES msg/s
 * (default `5,20`; the goal applies to the first). Creating the users (argon2 at register and
 * login) dominates the setup time.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { freePort } from '@palisade/platform/testing'
import { startTestStack, type TestStack, type TestUser } from '@palisade/testkit'
import { discardStream, type Bench, type Measurement, type RunOptions, benchCleanups } from './framework.js'
import { procCpuUs, startStackService, type ServiceProcess } from './service-process.js'

const CLIENTS = fileURLToPath(new URL('./gateway-clients.mjs', import.meta.url))
const SOCKETS = Number(process.env.BENCH_GATEWAY_SOCKETS ?? 1000)
/** steady send rates of the latency rows: a conversation's ordinary pace, and a busy one */
const RATES = (process.env.BENCH_GATEWAY_RATES ?? '5,20')
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
/** client processes the sockets are spread over (real clients do not share one core) */
const CLIENT_PROCESSES = Math.max(1, Number(process.env.BENCH_GATEWAY_CLIENT_PROCESSES ?? 2))

export const GATEWAY_ROWS = {
  latency: (rate: number) => `gateway send → receipt on ${SOCKETS} sockets (${rate} msg/s)`,
  throughput: `gateway sustained fan-out to ${SOCKETS} sockets (msg/s, latency of arrivals)`,
  memory: `gateway memory per idle socket, KiB of heap (p50/p99 columns)`
} as const

interface Summary {
  n: number
  min: number
  p50: number
  p99: number
  max: number
}

function row(name: string, perSecond: number, s: Summary, errors: number): Measurement {
  const r = (x: number) => Math.round(x * 100) / 100
  return { name, reqPerSec: perSecond, p50: r(s.p50), p99: r(s.p99), cpuUsPerReq: 0, errors, unexpected: 0 }
}

async function pool<T, R>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await fn(items[i]!, i)
      }
    })
  )
  return out
}

/** One client process (gateway-clients.mjs). Replies are matched by their `ok` kind. */
class ClientProcess {
  private readonly child: ChildProcess
  private readonly pending = new Map<string, { resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }>()
  readonly ready: Promise<void>
  readonly warnings: string[] = []

  constructor() {
    this.child = fork(CLIENTS, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] })
    let ready: () => void = () => {}
    this.ready = new Promise((r) => (ready = r))
    this.child.on('message', (msg: Record<string, unknown>) => {
      if (typeof msg.warn === 'string') return void this.warnings.push(msg.warn)
      if (msg.ok === 'ready') return ready()
      if (msg.error) {
        for (const p of this.pending.values()) p.reject(new Error(String(msg.error)))
        return this.pending.clear()
      }
      const p = this.pending.get(String(msg.ok))
      this.pending.delete(String(msg.ok))
      p?.resolve(msg)
    })
  }

  call<T>(msg: Record<string, unknown>, reply: string): Promise<T> {
    return new Promise((resolve, reject) => {
      this.pending.set(reply, { resolve: (m) => resolve(m as T), reject })
      this.child.send(msg)
    })
  }

  tell(msg: Record<string, unknown>): void {
    this.child.send(msg)
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.child.send({ cmd: 'close' })
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))])
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}

interface Recorded {
  samples: number[]
  frames: number
  cpu: number
}

function summarise(samples: number[]): Summary {
  const s = Float64Array.from(samples).sort()
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? 0
  return { n: s.length, min: s[0] ?? 0, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? 0 }
}

/** All client processes; child 0 sends. */
class Clients {
  readonly procs: ClientProcess[]

  constructor(n: number) {
    this.procs = Array.from({ length: n }, () => new ClientProcess())
  }

  get warnings(): string[] {
    return this.procs.flatMap((p) => p.warnings)
  }

  async connect(url: string, headers: Record<string, string>[]): Promise<number> {
    await Promise.all(this.procs.map((p) => p.ready))
    const t0 = Date.now()
    await Promise.all(this.procs.map((p, i) => p.call({ cmd: 'connect', url, headers: headers.filter((_h, j) => j % this.procs.length === i) }, 'connected')))
    return Date.now() - t0
  }

  /**
   * Runs `drive` (on child 0) while every child records arrivals; then lets stragglers arrive: until
   * `expected(result)` frames have (at most 10 s more), or 2 s when there is no expectation.
   */
  async recordWhile<T>(seconds: number, drive: () => Promise<T>, expected?: (result: T) => number): Promise<{ result: T; recorded: Recorded }> {
    const recordings = this.procs.map((p) => p.call<Recorded>({ cmd: 'record', seconds: seconds + 10 }, 'recorded'))
    const result = await drive()
    const want = expected?.(result)
    if (want === undefined) await new Promise((r) => setTimeout(r, 2000))
    else {
      const deadline = Date.now() + 10_000
      while (Date.now() < deadline) {
        const counts = await Promise.all(this.procs.map((p) => p.call<{ frames: number }>({ cmd: 'progress' }, 'progress')))
        if (counts.reduce((n, c) => n + c.frames, 0) >= want) break
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    for (const p of this.procs) p.tell({ cmd: 'stop' })
    const all = await Promise.all(recordings)
    return {
      result,
      recorded: { samples: all.flatMap((r) => r.samples), frames: all.reduce((n, r) => n + r.frames, 0), cpu: all.reduce((n, r) => n + r.cpu, 0) }
    }
  }

  send(conversationId: string, rate: number, seconds: number): Promise<{ sent: number }> {
    return this.procs[0]!.call({ cmd: 'send', conversationId, rate, seconds }, 'sent')
  }

  drive(conversationId: string, seconds: number, window: number): Promise<{ delivered: number }> {
    return this.procs[0]!.call({ cmd: 'drive', conversationId, seconds, window }, 'driven')
  }

  async close(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.close()))
  }
}

/**
 * The gateway's memory after two forced GCs, evaluated in its process over the inspector protocol
 * (the gateway runs with --expose-gc and --inspect on `inspectPort`).
 */
async function memory(inspectPort: number): Promise<{ rss: number; heap: number }> {
  const [target] = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[]
  const ws = new WebSocket(target!.webSocketDebuggerUrl)
  try {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))))
    const expression = '(() => { gc(); gc(); const m = process.memoryUsage(); return { rss: m.rss, heap: m.heapUsed + m.external + m.arrayBuffers } })()'
    ws.send(JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression, returnByValue: true } }))
    const { result } = JSON.parse(await reply) as { result: { result: { value: { rss: number; heap: number } } } }
    return result.result.value
  } finally {
    ws.close()
  }
}

/** TCP connections established to `port` on 127.0.0.1 (the gateway's open sockets), from /proc. */
function openSockets(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .filter((line) => {
      const f = line.trim().split(/\s+/)
      return f[1] === local && f[3] === '01'
    }).length
}

export const gatewayBench: Bench = {
  name: 'gateway',
  description: `one conversation with ${SOCKETS} member sockets through the gateway: send → receipt latency at ${RATES.join(' and ')} msg/s, sustained msg/s, memory per idle socket`,
  async setup() {
    const cleanups = benchCleanups()
    const host = cleanups.host
    const teardown = cleanups.run
    try {
      const stack: TestStack = await startTestStack(host, { authLogStream: discardStream() })
      const chat = await startStackService(host, stack, 'chat', { CHAT_RATE_LIMIT_PER_MINUTE: 1_000_000, CHAT_MAX_MEMBERS: SOCKETS + 1 })
      const inspectPort = await freePort()
      const gateway: ServiceProcess = await startStackService(
        host,
        stack,
        'gateway',
        { GATEWAY_MAX_SOCKETS_PER_IP: SOCKETS + 10 },
        { nodeArgs: ['--expose-gc', `--inspect=127.0.0.1:${inspectPort}`] }
      )
      const gatewayPort = Number(new URL(gateway.url).port)
      const serverCpuUs = () => procCpuUs(chat.pid) + procCpuUs(gateway.pid)

      const t0 = Date.now()
      // At most 4 logins in flight: auth counts a pending login as a failure of the address until it succeeds (5 → throttled).
      const users: TestUser[] = await pool(Array.from({ length: SOCKETS }), 4, (_x, i) => stack.createUser({ displayName: `Member ${i}` }))
      const owner = users[0]!
      const ownerHeaders = (method: string, uri: string) => stack.identityHeaders(owner, { method, uri })
      const post = async (uri: string, payload: object) => {
        const headers = await ownerHeaders('POST', uri)
        const res = await fetch(chat.url + uri, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(payload) })
        return { status: res.status, body: await res.text() }
      }
      const created = await post('/api/chat/conversations', { title: 'Bench', memberIds: users.slice(1, 100).map((u) => u.userId) })
      if (created.status !== 201) throw new Error(`create conversation: ${created.status} ${created.body}`)
      const conversationId = (JSON.parse(created.body) as { id: string }).id
      const membersUri = `/api/chat/conversations/${conversationId}/members`
      await pool(users.slice(100), 4, async (u) => {
        const res = await post(membersUri, { userId: u.userId })
        if (res.status !== 201) throw new Error(`add member: ${res.status} ${res.body}`)
      })
      process.stdout.write(`gateway bench: ${SOCKETS} users and their conversation ready in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`)
      const url = `${gateway.url.replace('http', 'ws')}/ws`

      return {
        targets: [],
        goals: [
          { target: GATEWAY_ROWS.latency(RATES[0]!), maxP99Ms: 50 },
          { target: GATEWAY_ROWS.memory, maxP99Ms: 20, unit: 'KiB' }
        ],
        /** One full cycle: fresh identities (assertions live ≤ 60 s), connect, measure, disconnect. */
        async measure(opts: RunOptions): Promise<Measurement[]> {
          const headers = await pool(users, 16, (u) => stack.identityHeaders(u, { uri: '/ws' }))
          // Other connections to the gateway (the readiness check's keep-alive) are not sockets of the bench.
          const others = openSockets(gatewayPort)
          const clients = new Clients(CLIENT_PROCESSES)
          try {
            const before = await memory(inspectPort)
            const ms = await clients.connect(url, headers)
            await new Promise((r) => setTimeout(r, 2000))
            const after = await memory(inspectPort)
            const open = openSockets(gatewayPort) - others
            const perSocket = { rss: (after.rss - before.rss) / 1024 / open, heap: (after.heap - before.heap) / 1024 / open }
            process.stdout.write(
              `gateway bench: load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs; ${open} sockets open in ${(ms / 1000).toFixed(1)} s (${CLIENT_PROCESSES} client processes); per idle socket ${perSocket.heap.toFixed(1)} KiB heap, ${perSocket.rss.toFixed(1)} KiB RSS\n`
            )

            if (opts.warmupSeconds > 0) await clients.recordWhile(1, () => clients.send(conversationId, RATES[0]!, Math.min(2, opts.warmupSeconds)))
            const seconds = Math.max(2, Math.min(opts.durationSeconds, 15))
            const pct = (us: number, s: number) => (us / 1e4 / s).toFixed(0)
            const latencyRows: Measurement[] = []
            for (const rate of RATES) {
              const cpu0 = serverCpuUs()
              const { result, recorded } = await clients.recordWhile(
                seconds,
                () => clients.send(conversationId, rate, seconds),
                (r) => r.sent * open
              )
              const s = summarise(recorded.samples)
              const expected = result.sent * open
              process.stdout.write(
                `gateway bench: ${rate} msg/s: ${recorded.frames}/${expected} arrivals, first ${s.min.toFixed(1)} ms, last ${s.max.toFixed(1)} ms, ` +
                  `CPU server ${pct(serverCpuUs() - cpu0, seconds + 2)} % / clients ${recorded.cpu} % of a core\n`
              )
              latencyRows.push(row(GATEWAY_ROWS.latency(rate), recorded.frames / seconds, s, Math.max(0, expected - recorded.frames)))
            }
            const cpu0 = serverCpuUs()
            const { result: driven, recorded: thr } = await clients.recordWhile(seconds, () => clients.drive(conversationId, seconds, 32))
            const cpu = serverCpuUs() - cpu0
            const thrPerSec = driven.delivered / seconds
            process.stdout.write(
              `gateway bench: sustained ${thrPerSec.toFixed(0)} msg/s = ${(thr.frames / seconds).toFixed(0)} frames/s delivered, CPU server ${pct(cpu, seconds + 2)} % / clients ${thr.cpu} %` +
                (clients.warnings.length ? `; client warnings: ${[...new Set(clients.warnings)].join(', ')}` : '') +
                '\n'
            )
            const heapKiB = Math.round(perSocket.heap * 10) / 10
            const memRow: Measurement = { name: GATEWAY_ROWS.memory, reqPerSec: open, p50: heapKiB, p99: heapKiB, cpuUsPerReq: 0, errors: 0, unexpected: 0 }
            return [...latencyRows, row(GATEWAY_ROWS.throughput, thrPerSec, summarise(thr.samples), 0), memRow]
          } finally {
            await clients.close()
            const deadline = Date.now() + 5000
            while (openSockets(gatewayPort) > others && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
          }
        },
        teardown
      }
    } catch (err) {
      await teardown()
      throw err
    }
  }
}

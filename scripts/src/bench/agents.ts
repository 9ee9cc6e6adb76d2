/**
 * Agents: orchestration overhead with the `local` provider (runs/s and request → final message on a
 * member's socket, against a plain chat message through the same services as the same-run baseline)
 * and the time from a provider token to its arrival on a member's socket (goal: p99 ≤ 20 ms). The
 * real auth, chat, gateway and agents run as their own processes (their CPU time read from /proc)
 * on a throwaway database and a private nats-server; the provider is a local OpenAI-compatible
 * stream in this process stamping each token's send time.
 *
 * These are latencies of events on a socket, not HTTP responses, so the bench measures its own rows
 * (`measurements`) instead of autocannon targets.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { startTestStack, type TestStack, type TestUser } from '@palisade/testkit'
import { discardStream, summarise, type Bench, type Measurement, type RunOptions, benchCleanups } from './framework.js'
import { procCpuUs, startStackService, type ServiceProcess } from './service-process.js'
import { startTokenServer } from './token-server.js'

interface Watcher {
  ws: WebSocket
  on(fn: (frame: Record<string, any>, at: number) => void): void
}

async function watch(stack: TestStack, gateway: ServiceProcess, user: TestUser): Promise<Watcher> {
  const headers = await stack.identityHeaders(user, { uri: '/ws' })
  const ws = new WebSocket(`${gateway.url.replace('http', 'ws')}/ws`, { headers, perMessageDeflate: false })
  const listeners: ((f: Record<string, any>, at: number) => void)[] = []
  ws.on('message', (data) => {
    const at = performance.now()
    const frame = JSON.parse(String(data)) as Record<string, any>
    for (const l of listeners) l(frame, at)
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject)
    ws.once('message', () => resolve())
  })
  return { ws, on: (fn) => listeners.push(fn) }
}

const ARRIVAL_TIMEOUT_MS = 30_000

/** Row names (goals refer to them). */
export const AGENTS_ROWS = {
  baseline: 'chat message → member socket (same-run baseline)',
  runs: 'agents run, local provider: request → final message',
  sequential: 'agents run, local provider, one at a time',
  token20: 'agents provider token → member socket (token every 20 ms)',
  token2: 'agents provider token → member socket (token every 2 ms)'
} as const

/** A JSON request to a service process; the status and the parsed body. */
async function call(
  svc: ServiceProcess,
  method: string,
  uri: string,
  headers: Record<string, string>,
  payload?: object
): Promise<{ status: number; body: any }> {
  const res = await fetch(svc.url + uri, {
    method,
    headers: payload ? { ...headers, 'content-type': 'application/json' } : headers,
    ...(payload ? { body: JSON.stringify(payload) } : {})
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

/** user + system CPU time of the service processes together, in microseconds */
type CpuClock = () => number

/** Runs `one` from `concurrency` workers for `seconds`; latency samples and completions per second. */
async function closedLoop(seconds: number, concurrency: number, cpuClock: CpuClock, one: (i: number) => Promise<number>): Promise<Loop> {
  const samples: number[] = []
  let errors = 0
  let next = 0
  const cpu0 = cpuClock()
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        try {
          samples.push(await one(next++))
        } catch {
          errors++
        }
      }
    })
  )
  return { samples, perSecond: samples.length / ((performance.now() - t0) / 1000), errors, cpuUs: cpuClock() - cpu0 }
}

interface Loop {
  samples: number[]
  perSecond: number
  errors: number
  /** CPU of chat, gateway and agents together during the loop */
  cpuUs: number
}

function row(name: string, loop: Loop): Measurement {
  const s = summarise(loop.samples)
  return {
    name,
    reqPerSec: loop.perSecond,
    p50: s.p50,
    p99: s.p99,
    cpuUsPerReq: loop.cpuUs / Math.max(1, loop.samples.length),
    errors: loop.errors,
    unexpected: 0
  }
}

export const agentsBench: Bench = {
  name: 'agents',
  description:
    'agent run orchestration with the local provider (runs/s, request → final message on a member socket, vs a plain chat message) and provider token → member socket latency',
  async setup() {
    const cleanups = benchCleanups()
    const host = cleanups.host
    let interval = 20
    let tokenCount = 100
    const provider = await startTokenServer(
      () => interval,
      () => tokenCount
    )
    cleanups.push(() => new Promise((r) => provider.server.close(r)))
    const keyDir = mkdtempSync(join(tmpdir(), 'palisade-bench-agents-'))
    cleanups.push(() => rmSync(keyDir, { recursive: true, force: true }))
    writeFileSync(join(keyDir, 'key'), 'sk-bench-not-a-real-key\n')
    const teardown = cleanups.run
    try {
      const stack = await startTestStack(host, { authLogStream: discardStream() })
      const chat = await startStackService(host, stack, 'chat', { CHAT_RATE_LIMIT_PER_MINUTE: 1_000_000 })
      const gateway = await startStackService(host, stack, 'gateway')
      const agents = await startStackService(host, stack, 'agents', {
        AGENTS_MAX_CONCURRENT_RUNS: 1000,
        AGENTS_RUNS_PER_MINUTE: 1_000_000,
        AGENTS_PROVIDERS: JSON.stringify([
          { id: 'bench', kind: 'openai-compatible', baseUrl: provider.url, apiKeyFile: join(keyDir, 'key'), models: ['bench'] }
        ])
      })
      const cpuClock: CpuClock = () => procCpuUs(chat.pid) + procCpuUs(gateway.pid) + procCpuUs(agents.pid)

      // One watcher (member of every conversation, one socket) and a few users running agents.
      const watcher = await stack.createUser({ displayName: 'Watcher' })
      // Runs are spread over 16 users: three rounds of ~115 runs/s would pass the platform's
      // per-user request budget (600/min) with fewer. Four of them stream at once.
      // One after another: parallel logins from one address trip auth's brute-force throttle.
      const users: TestUser[] = []
      for (let i = 0; i < 16; i++) users.push(await stack.createUser())
      const headers = new Map<string, Promise<Record<string, string>>>()
      const as = (u: TestUser, uri: string) => {
        const key = `${u.userId}|${uri.split('/')[2]}`
        if (!headers.has(key)) headers.set(key, stack.identityHeaders(u, { method: 'POST', uri }) as Promise<Record<string, string>>)
        return headers.get(key)!
      }
      const setups = await Promise.all(
        users.map(async (u) => {
          const conv = await call(chat, 'POST', '/api/chat/conversations', await as(u, '/api/chat/conversations'), {
            title: 'bench',
            memberIds: [watcher.userId]
          })
          const local = await call(agents, 'POST', '/api/agents', await as(u, '/api/agents'), { name: 'bench' })
          const remote = await call(agents, 'POST', '/api/agents', await as(u, '/api/agents'), { name: 'bench', provider: 'bench', model: 'bench' })
          if (conv.status !== 201 || local.status !== 201 || remote.status !== 201) throw new Error('agents bench setup failed')
          return { user: u, conv: conv.body.id as string, local: local.body.id as string, remote: remote.body.id as string }
        })
      )
      const socket = await watch(stack, gateway, watcher)
      cleanups.push(() => socket.ws.close())
      const waiting = new Map<string, (at: number) => void>()
      const latencies: number[] = []
      socket.on((f, at) => {
        if (f.type === 'message.created') {
          const key = f.message.author.kind === 'agent' ? f.message.author.agentRunId : f.message.clientMessageId
          waiting.get(key)?.(at)
        } else if (f.type === 'agent.run.delta') {
          for (const tok of String(f.text).match(/r\d+t\d+/g) ?? []) {
            const sentAt = provider.sent.get(tok)
            if (sentAt !== undefined) latencies.push(at - sentAt)
          }
        }
      })
      // Never wait forever: a lost event counts as an error of that sample.
      const arrival = (key: string) =>
        new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => {
            waiting.delete(key)
            reject(new Error(`no message for ${key}`))
          }, ARRIVAL_TIMEOUT_MS)
          waiting.set(key, (at) => {
            clearTimeout(timer)
            waiting.delete(key)
            resolve(at)
          })
        })
      // Assertions come with ≥ 15 s of life left (auth re-signs below that): fresh request headers,
      // and the watcher's socket lease renewed (a plain GET /ws, as clients do) well within that,
      // else the gateway closes the socket with 4002 mid-measurement.
      const refresh = setInterval(() => {
        headers.clear()
        void stack
          .identityHeaders(watcher, { uri: '/ws' })
          .then((h) => call(gateway, 'GET', '/ws', h))
          .catch(() => {})
      }, 5_000)
      cleanups.push(() => clearInterval(refresh))

      const baselineMessage = async (i: number) => {
        const s = setups[i % setups.length]!
        const id = randomUUID()
        const arrived = arrival(id)
        const t0 = performance.now()
        const res = await call(chat, 'POST', `/api/chat/conversations/${s.conv}/messages`, await as(s.user, '/api/chat/conversations'), {
          text: `baseline ${i}`,
          clientMessageId: id
        })
        if (res.status !== 201) throw new Error(`baseline message: ${res.status}`)
        return (await arrived) - t0
      }
      const agentRun = async (i: number) => {
        const s = setups[i % setups.length]!
        const t0 = performance.now()
        const res = await call(agents, 'POST', `/api/agents/${s.local}/runs`, await as(s.user, '/api/agents'), {
          conversationId: s.conv,
          input: `benchmark run ${i} with a few words to echo`
        })
        if (res.status !== 202) throw new Error(`run: ${res.status}`)
        return (await arrival(res.body.id as string)) - t0
      }
      const tokensEvery = async (ms: number, seconds: number) => {
        interval = ms
        // Each stream lasts about the measurement time; one stream per user, all at once.
        tokenCount = Math.max(20, Math.round((seconds * 1000) / ms))
        latencies.length = 0
        const cpu0 = cpuClock()
        const t0 = performance.now()
        await Promise.all(
          setups.slice(0, 4).map(async (s, i) => {
            const res = await call(agents, 'POST', `/api/agents/${s.remote}/runs`, await as(s.user, '/api/agents'), {
              conversationId: s.conv,
              input: `stream ${i}`
            })
            if (res.status !== 202) throw new Error(`stream run: ${res.status}`)
            await arrival(res.body.id as string)
          })
        )
        return { samples: [...latencies], perSecond: latencies.length / ((performance.now() - t0) / 1000), errors: 0, cpuUs: cpuClock() - cpu0 }
      }

      return {
        targets: [],
        goals: [
          { target: AGENTS_ROWS.token20, maxP99Ms: 20 },
          { target: AGENTS_ROWS.token2, maxP99Ms: 20 }
        ],
        async measure(opts: RunOptions): Promise<Measurement[]> {
          const concurrency = Math.max(1, Math.min(opts.connections, 16))
          const seconds = Math.max(1, opts.durationSeconds)
          if (opts.warmupSeconds > 0) {
            await closedLoop(opts.warmupSeconds / 2, 4, cpuClock, baselineMessage)
            await closedLoop(opts.warmupSeconds / 2, 4, cpuClock, agentRun)
          }
          const base = await closedLoop(seconds, concurrency, cpuClock, baselineMessage)
          const runs = await closedLoop(seconds, concurrency, cpuClock, agentRun)
          const one = await closedLoop(Math.max(1, seconds / 2), 1, cpuClock, agentRun)
          const t20 = await tokensEvery(20, Math.max(1, seconds / 2))
          const t2 = await tokensEvery(2, Math.max(1, seconds / 2))
          return [
            row(`${AGENTS_ROWS.baseline}, ${concurrency} in flight`, base),
            row(`${AGENTS_ROWS.runs}, ${concurrency} in flight`, runs),
            row(AGENTS_ROWS.sequential, one),
            row(AGENTS_ROWS.token20, t20),
            row(AGENTS_ROWS.token2, t2)
          ]
        },
        teardown
      }
    } catch (err) {
      await teardown()
      throw err
    }
  }
}

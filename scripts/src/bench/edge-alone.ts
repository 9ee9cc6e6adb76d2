/**
 * The edge alone, for A/B work on its own CPU (docs/performance.md "The edge's own CPU against
 * Caddy's"): `createEdge` in a process of its own, set up the way the launcher sets it up (tracing
 * without an exporter, metrics, no access log), in front of a stub /auth/verify and a stub
 * upstream (one process for both, answering what auth and chat answer for GET
 * /api/chat/conversations), loaded by autocannon from a third process. Reported: the edge
 * process's CPU (utime + stime) per request, which the full `pnpm bench edge` can only see through
 * the noise of auth, chat and PostgreSQL sharing the cores.
 *
 *   node --conditions=development --import=tsx scripts/src/bench/edge-alone.ts \
 *     [--edge=a.ts --edge=b.ts ...] [--pairs=4] [--duration=8] [--warmup=2] [--connections=50] [--prof=dir]
 *
 * Each `--edge` is a module exporting `createEdge` (default: this tree's edge). With several, each
 * round runs them in turn, alternating which goes first; `--prof` writes a `--cpu-prof` profile
 * of each edge process into dir.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process'
import http from 'node:http'
import { once } from 'node:events'
import { resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { IDENTITY_HEADERS, REQUEST_ID_HEADER, ROUTES } from '@palisade/contracts'
import { procCpuUs } from './service-process.js'

const ROUTE = '/api/chat/conversations'
const SELF = fileURLToPath(import.meta.url)
const RUNNER = fileURLToPath(new URL('./load-runner.mjs', import.meta.url))
const DEFAULT_EDGE = fileURLToPath(new URL('../edge/edge.ts', import.meta.url))
const NODE_ARGS = ['--no-allocation-site-pretenuring', '--conditions=development', '--import=tsx']

/** What auth's /verify answers to an allowed request (Fastify + helmet headers, no body). */
function verifyAnswer(res: http.ServerResponse): void {
  res.writeHead(200, {
    [IDENTITY_HEADERS.user]: '0193a5b2-7c1e-7d40-9a1b-5e0c6f3e2a11',
    [IDENTITY_HEADERS.session]: '0193a5b2-8d2f-7e51-8b2c-6f1d7a4f3b22',
    [IDENTITY_HEADERS.assertion]: `eyJhbGciOiJFZERTQSIsImtpZCI6ImEifQ.${'x'.repeat(300)}.${'y'.repeat(86)}`,
    [REQUEST_ID_HEADER]: '0193a5b2-9e3a-7f62-9c3d-7a2e8b5a4c33',
    'content-security-policy': "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'self'",
    'cross-origin-resource-policy': 'same-origin',
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-length': '0'
  })
  res.end()
}

const LIST = Buffer.from('{"conversations":[],"nextCursor":null}')

/** What chat answers for a user with no conversations. */
function listAnswer(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-security-policy': "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'self'",
    'cross-origin-resource-policy': 'same-origin',
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
    [REQUEST_ID_HEADER]: String(req.headers[REQUEST_ID_HEADER] ?? ''),
    'content-length': String(LIST.length)
  })
  res.end(LIST)
}

async function listen(server: http.Server): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as { port: number }).port
}

/** Child: the stub auth and the stub chat; sends their ports to the parent. */
async function serveStubs(): Promise<void> {
  const auth = http.createServer({ keepAliveTimeout: 65_000 }, (_req, res) => verifyAnswer(res))
  const chat = http.createServer({ keepAliveTimeout: 65_000 }, listAnswer)
  process.send!({ auth: await listen(auth), chat: await listen(chat) })
}

/** Child: one edge, as the launcher runs it; sends its port to the parent. */
async function serveEdge(modulePath: string, authPort: number, chatPort: number): Promise<void> {
  const { initTracing, ServiceMetrics } = await import('@palisade/platform')
  initTracing({ service: 'edge' })
  const { createEdge } = (await import(pathToFileURL(modulePath).href)) as typeof import('../edge/edge.js')
  const edge = createEdge({
    routes: ROUTES,
    upstreams: { auth: `http://127.0.0.1:${authPort}`, chat: `http://127.0.0.1:${chatPort}` },
    authVerifyUrl: `http://127.0.0.1:${authPort}/auth/verify`,
    metrics: new ServiceMetrics('edge'),
    logRequests: false,
    log: (e) => {
      if (e.level !== 'info') process.stderr.write(`[edge] ${JSON.stringify(e)}\n`)
    }
  })
  process.send!({ port: await edge.listen(0) })
  process.on('SIGTERM', () => void edge.close().finally(() => process.exit(0)))
}

function start(args: string[], execArgv = NODE_ARGS): Promise<{ child: ChildProcess; msg: Record<string, number> }> {
  const child = fork(SELF, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return new Promise((ok, fail) => {
    child.once('message', (msg) => ok({ child, msg: msg as Record<string, number> }))
    child.once('exit', (code) => fail(new Error(`${args.join(' ')} exited with ${code}`)))
  })
}

function load(port: number, seconds: number, connections: number): Promise<{ requests: number; non2xx: number; errors: number }> {
  const opts = {
    url: `http://127.0.0.1:${port}${ROUTE}`,
    headers: { cookie: `palisade_access=${'t'.repeat(400)}`, accept: 'application/json' },
    connections,
    duration: seconds,
    timeout: 10
  }
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [RUNNER, JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.on('exit', (code) => {
      if (code !== 0) return fail(new Error(`load generator exited with ${code}`))
      const r = JSON.parse(out) as { requests: { total: number }; non2xx: number; errors: number }
      ok({ requests: r.requests.total, non2xx: r.non2xx, errors: r.errors })
    })
  })
}

/** One measurement: a fresh edge process, warm-up, then CPU per request over the measured window. */
async function measure(modulePath: string, stubs: Record<string, number>, o: Options, label: string): Promise<number> {
  const prof = o.prof ? [`--cpu-prof`, `--cpu-prof-dir=${o.prof}`] : []
  const { child, msg } = await start(['--serve-edge', modulePath, String(stubs.auth), String(stubs.chat)], [...NODE_ARGS, ...prof])
  try {
    await load(msg.port!, o.warmup, o.connections)
    const before = procCpuUs(child.pid!)
    const t0 = Date.now()
    const r = await load(msg.port!, o.duration, o.connections)
    const us = (procCpuUs(child.pid!) - before) / r.requests
    const bad = r.non2xx + r.errors
    process.stdout.write(
      `${label.padEnd(12)} ${String(Math.round(r.requests / ((Date.now() - t0) / 1000))).padStart(6)} req/s  ${us.toFixed(1).padStart(6)} µs/req${bad ? `  (${bad} failed)` : ''}\n`
    )
    return us
  } finally {
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
}

interface Options {
  edges: string[]
  pairs: number
  duration: number
  warmup: number
  connections: number
  prof?: string
}

function parse(argv: string[]): Options {
  const o: Options = { edges: [], pairs: 4, duration: 8, warmup: 2, connections: 50 }
  for (const a of argv) {
    const m = /^--(edge|pairs|duration|warmup|connections|prof)=(.+)$/.exec(a)
    if (!m) throw new Error(`unknown option ${a}`)
    if (m[1] === 'edge') o.edges.push(resolve(m[2]!))
    else if (m[1] === 'prof') o.prof = resolve(m[2]!)
    else o[m[1] as 'pairs' | 'duration' | 'warmup' | 'connections'] = Number(m[2])
  }
  if (o.edges.length === 0) o.edges.push(DEFAULT_EDGE)
  return o
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2))
  const { child: stubs, msg } = await start(['--serve-stubs'])
  const labels = o.edges.map((_, i) => (o.edges.length === 1 ? 'edge' : String.fromCharCode(65 + i)))
  for (const [i, e] of o.edges.entries()) process.stdout.write(`${labels[i]}: ${e}\n`)
  const results = o.edges.map(() => [] as number[])
  try {
    for (let round = 0; round < o.pairs; round++) {
      const order = o.edges.map((_, i) => i)
      if (round % 2 === 1) order.reverse()
      for (const i of order) results[i]!.push(await measure(o.edges[i]!, msg, o, labels[i]!))
    }
  } finally {
    stubs.kill()
  }
  for (const [i, r] of results.entries()) {
    process.stdout.write(`${labels[i]} median ${median(r).toFixed(1)} µs/req  (${r.map((x) => x.toFixed(0)).join(', ')})\n`)
  }
}

const [mode, ...rest] = process.argv.slice(2)
if (mode === '--serve-stubs') await serveStubs()
else if (mode === '--serve-edge') await serveEdge(rest[0]!, Number(rest[1]), Number(rest[2]))
else await main()

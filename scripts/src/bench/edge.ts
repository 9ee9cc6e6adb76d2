/**
 * The edge: one authenticated service route called directly with valid identity headers (what a
 * service costs by itself) and the same route through the local edge with a cookie (edge + the
 * auth sub-request + the service), beside the hello-world baseline of the same run.
 *
 * The stack runs the way `pnpm start` runs it (the launcher as a child process: the edge in the
 * launcher, auth and chat each in their own process, nats-server from PATH, a throwaway database),
 * so the numbers include the process hops the real deployment has. The route is chat's
 * GET /api/chat/conversations (one indexed query for a user with no conversations), with chat's
 * per-user rate limit raised for the run. When `caddy` is on PATH, a third row sends the same
 * request through Caddy with forward_auth (caddy.ts, generated from the route table) in front of
 * the same auth and chat. CPU per request: the whole stack's for the direct row; for the edge and
 * Caddy rows only the proxy's own process (the launcher, which runs the edge, and caddy), the
 * figure the two are compared by — the stack's total would also charge the idle services' timers,
 * divided over fewer requests for the slower row.
 */
import { accessSync, constants, readFileSync } from 'node:fs'
import { AUTH_COOKIES, IDENTITY_HEADER_NAMES, REQUEST_ID_HEADER } from '@palisade/contracts'
import { freePort } from '@palisade/platform/testing'
import { startThrowawayStack } from '../stack/throwaway.js'
import { startCaddy } from './caddy.js'
import type { Bench, BenchTarget } from './framework.js'
import { procCpuUs } from './service-process.js'

const ROUTE = '/api/chat/conversations'
export const EDGE_ROWS = {
  direct: 'chat route, direct (identity headers)',
  edge: 'chat route via edge + auth (cookie; CPU: edge)',
  caddy: 'chat route via Caddy forward_auth + auth (cookie; CPU: Caddy)'
} as const

/** Whether `caddy` is on PATH (then the bench also measures it as the edge). */
function caddyOnPath(): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => {
    try {
      accessSync(`${d}/caddy`, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** Cumulative user+system CPU (µs) of a process and all its descendants, from /proc (Linux). */
export function treeCpuMicros(pid: number): number {
  const tick = 1_000_000 / 100 // USER_HZ is 100 on Linux
  let total = 0
  const visit = (p: number) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      total += (Number(fields[11]) + Number(fields[12])) * tick
      const kids = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim()
      if (kids) for (const k of kids.split(/\s+/)) visit(Number(k))
    } catch {}
  }
  visit(pid)
  return total
}

export const edgeBench: Bench = {
  name: 'edge',
  description: 'chat route direct with identity headers vs through the local edge + auth with a cookie',
  async setup() {
    const stack = await startThrowawayStack({
      name: 'bench',
      readyTimeoutMs: 180_000,
      env: { PALISADE_LOG_LEVEL: 'warn', CHAT_RATE_LIMIT_PER_MINUTE: '1000000', AUTH_RATE_LIMIT_PER_MINUTE: '100000' }
    })
    const { port, child } = stack
    const out = stack.output
    const cleanup = () => stack.stop()
    try {
      if (!stack.ready) throw new Error(child.exitCode !== null ? `launcher exited: ${out().slice(-2000)}` : `launcher not ready: ${out().slice(-2000)}`)
      const chatPort = Number(/chat@(\d+)/.exec(out())?.[1])
      const authPort = Number(/auth@(\d+)/.exec(out())?.[1])
      if (!chatPort || !authPort) throw new Error('chat or auth is not running')
      const edgeUrl = `http://127.0.0.1:${port}`
      const origin = `http://localhost:${port}`
      const email = `bench-${Date.now()}@test.palisade.example`
      const password = 'a long benchmark password'
      const post = (path: string, body: unknown) =>
        fetch(edgeUrl + path, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: JSON.stringify(body) })
      const reg = await post('/auth/register', { email, password, displayName: 'Bench' })
      if (reg.status !== 201) throw new Error(`register answered ${reg.status}`)
      const login = await post('/auth/login', { email, password })
      const cookie = login.headers
        .getSetCookie()
        .map((c) => c.split(';')[0]!)
        .find((c) => c.startsWith(`${AUTH_COOKIES.access}=`))
      if (!cookie) throw new Error('login set no access cookie')

      // Direct calls carry what the edge would stamp: auth's answer for this route. Auth reuses an
      // assertion until 15 s before it expires, so it is refreshed every second; each row's run
      // (warm-up + duration) must stay under ~14 s for the direct row to keep a valid one.
      let identity: Record<string, string> = {}
      const refresh = async () => {
        const r = await fetch(`http://127.0.0.1:${authPort}/auth/verify`, {
          headers: {
            cookie,
            accept: 'application/json',
            'x-forwarded-method': 'GET',
            'x-forwarded-uri': ROUTE,
            'x-forwarded-host': `localhost:${port}`,
            'x-forwarded-proto': 'http',
            'x-forwarded-for': '127.0.0.1'
          }
        })
        if (r.status !== 200) throw new Error(`/auth/verify answered ${r.status}`)
        const h: Record<string, string> = {}
        for (const n of [...IDENTITY_HEADER_NAMES, REQUEST_ID_HEADER]) h[n] = r.headers.get(n) ?? ''
        identity = h
      }
      await refresh()
      const timer = setInterval(() => void refresh().catch(() => {}), 1000)
      // The direct row's CPU per request is the whole stack's (launcher, auth, chat, nats-server...; not PostgreSQL).
      const serverCpuMicros = () => treeCpuMicros(child.pid!)
      const direct = {
        name: EDGE_ROWS.direct,
        url: `http://127.0.0.1:${chatPort}${ROUTE}`,
        serverCpuMicros,
        get headers() {
          return { accept: 'application/json', ...identity }
        }
      }
      const edgeCpuMicros = () => procCpuUs(child.pid!)
      const targets: BenchTarget[] = [
        direct,
        { name: EDGE_ROWS.edge, url: edgeUrl + ROUTE, headers: { cookie, accept: 'application/json' }, serverCpuMicros: edgeCpuMicros }
      ]
      // The anchor: the same forward-auth done by a real proxy, in front of the same auth and chat.
      let caddy: Awaited<ReturnType<typeof startCaddy>> | undefined
      if (caddyOnPath()) {
        const ports: Record<string, number> = {}
        for (const m of out().matchAll(/(\w+)@(\d+)/g)) ports[m[1]!] = Number(m[2])
        const caddyPort = await freePort()
        caddy = await startCaddy(caddyPort, ports)
        const caddyPid = caddy.child.pid!
        targets.push({
          name: EDGE_ROWS.caddy,
          url: `http://127.0.0.1:${caddyPort}${ROUTE}`,
          headers: { cookie, accept: 'application/json' },
          serverCpuMicros: () => procCpuUs(caddyPid)
        })
      }
      return {
        targets,
        // Issue #30: the edge spends no more CPU per authenticated, proxied request than a real proxy
        // doing the same forward-auth (the earlier "35 % of hello-world" goal is retired).
        goals: caddy ? [{ target: EDGE_ROWS.edge, maxCpuOf: EDGE_ROWS.caddy }] : [],
        async teardown() {
          clearInterval(timer)
          await caddy?.stop()
          await cleanup()
        }
      }
    } catch (err) {
      await cleanup()
      throw err
    }
  }
}

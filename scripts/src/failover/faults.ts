/** The faults: kill -9 of one instance, of one NATS node, a PostgreSQL restart; each waits for recovery. */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { connect } from 'node:net'
import type { HarnessPostgres } from './postgres.js'
import { readStackState, readiness, sleep, waitUntil } from './stack-state.js'

export interface Fault {
  name: string
  start: number
  /** when everything answered ready again (undefined: not within the wait) */
  recoveredAt?: number
  /** what was seen meanwhile */
  notes: string[]
  ok: boolean
}

const RECOVERY_TIMEOUT_MS = 120_000

async function allReady(dataDir: string): Promise<boolean> {
  const answers = await Promise.all(readStackState(dataDir).instances.map((i) => readiness(i.port)))
  return answers.every((a) => a?.status === 200)
}

/** kill -9 of the first instance of `service`; the launcher starts it again. */
export async function killInstance(dataDir: string, service: string): Promise<Fault> {
  const victim = readStackState(dataDir).instances.find((i) => i.service === service && i.pid)
  if (!victim) return { name: `kill -9 ${service}`, start: Date.now(), notes: ['no running instance found'], ok: false }
  const start = Date.now()
  process.kill(victim.pid!, 'SIGKILL')
  const recoveredAt = await waitUntil(async () => {
    const now = readStackState(dataDir).instances.find((i) => i.name === victim.name)
    return !!now?.pid && now.pid !== victim.pid && (await readiness(victim.port))?.status === 200
  }, RECOVERY_TIMEOUT_MS)
  return { name: `kill -9 ${victim.name}`, start, ...(recoveredAt ? { recoveredAt } : {}), notes: [], ok: recoveredAt !== undefined }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/**
 * Which of `ports` process `pid` holds a TCP connection to (Linux: its socket inodes in /proc/net/tcp),
 * so the harness can take away the NATS node a gateway instance is using.
 */
export function connectedPort(pid: number, ports: readonly number[]): number | undefined {
  try {
    const inodes = new Set<string>()
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const link = (() => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`)
        } catch {
          return ''
        }
      })()
      const m = /^socket:\[(\d+)\]$/.exec(link)
      if (m) inodes.add(m[1]!)
    }
    for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || !inodes.has(f[9]!)) continue
      const port = Number.parseInt(f[2]!.split(':')[1]!, 16)
      if (ports.includes(port)) return port
    }
  } catch {
    // not Linux, or the process is gone: any node will do
  }
  return undefined
}

/**
 * kill -9 of one nats-server of the cluster — the one the first gateway instance is connected to,
 * so its sockets lose their events — services move to the others, the launcher starts it again.
 */
export async function killNatsNode(dataDir: string): Promise<Fault> {
  const state = readStackState(dataDir)
  const gateway = state.instances.find((i) => i.service === 'gateway' && i.pid)
  const port = gateway?.pid
    ? connectedPort(
        gateway.pid,
        state.nats.map((n) => n.port)
      )
    : undefined
  const index = Math.max(
    0,
    state.nats.findIndex((n) => n.port === port)
  )
  const node = state.nats[index]
  if (!node?.pid) return { name: 'kill -9 nats-server', start: Date.now(), notes: ['no cluster node found'], ok: false }
  const start = Date.now()
  process.kill(node.pid, 'SIGKILL')
  const notes = port ? [`the node ${gateway!.name} was connected to`] : []
  const recoveredAt = await waitUntil(async () => {
    const now = readStackState(dataDir).nats[index]
    return !!now?.pid && now.pid !== node.pid && (await accepts(node.port)) && (await allReady(dataDir))
  }, RECOVERY_TIMEOUT_MS)
  return { name: `kill -9 nats-server ${node.name}`, start, ...(recoveredAt ? { recoveredAt } : {}), notes, ok: recoveredAt !== undefined }
}

/**
 * PostgreSQL stopped (fast shutdown) for `downMs`, then started again. Meanwhile every instance that
 * needs the database must say not ready (503 with Retry-After) and none may exit; afterwards all
 * recover without being restarted.
 */
export async function restartPostgres(dataDir: string, pg: HarnessPostgres, downMs: number): Promise<Fault> {
  const before = readStackState(dataDir).instances.map((i) => ({ name: i.name, pid: i.pid, port: i.port, service: i.service }))
  const start = Date.now()
  await pg.stop()
  await sleep(Math.min(1500, downMs / 2))
  const notes: string[] = []
  let ok = true
  const probes = await Promise.all(before.map(async (i) => ({ ...i, answer: await readiness(i.port) })))
  for (const p of probes) {
    if (p.service === 'gateway' || p.service === 'web') continue // no database
    const a = p.answer
    if (a?.status !== 503 || !a.retryAfter) {
      ok = false
      notes.push(`${p.name} /readyz while PostgreSQL was down: ${a ? `${a.status}, Retry-After ${a.retryAfter ?? 'missing'}` : 'no answer'}`)
    }
  }
  if (ok) notes.push('every instance with a database answered /readyz 503 with Retry-After while it was down')
  await sleep(Math.max(0, start + downMs - Date.now()))
  await pg.start()
  const recoveredAt = await waitUntil(() => allReady(dataDir), RECOVERY_TIMEOUT_MS)
  const after = readStackState(dataDir).instances
  const restarted = before.filter((b) => after.find((a) => a.name === b.name)?.pid !== b.pid).map((b) => b.name)
  if (restarted.length > 0) {
    ok = false
    notes.push(`restarted meanwhile (a crash): ${restarted.join(', ')}`)
  } else notes.push('no instance exited')
  return { name: 'PostgreSQL restart', start, ...(recoveredAt ? { recoveredAt } : {}), notes, ok: ok && recoveredAt !== undefined }
}

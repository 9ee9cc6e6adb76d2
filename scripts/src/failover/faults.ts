/** The faults: kill -9 of one instance, of one NATS node, a PostgreSQL restart; each waits for recovery. */
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

/** kill -9 of one nats-server of the cluster; services move to the others, the launcher starts it again. */
export async function killNatsNode(dataDir: string, index = 0): Promise<Fault> {
  const node = readStackState(dataDir).nats[index]
  if (!node?.pid) return { name: 'kill -9 nats-server', start: Date.now(), notes: ['no cluster node found'], ok: false }
  const start = Date.now()
  process.kill(node.pid, 'SIGKILL')
  const notes: string[] = []
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

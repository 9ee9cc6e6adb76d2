/**
 * The failover run: a throwaway stack in instances mode (2 of every service, 3 NATS nodes) on a
 * PostgreSQL of its own, people sending messages through the edge, and the faults one after the
 * other. Everything it starts it stops; it kills only processes of that stack.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '@palisade/platform/testing'
import { startThrowawayStack, type ThrowawayStack } from '../stack/throwaway.js'
import { bruteForce, cacheInvalidation, register, requestBudget, revocation, type Account, type CheckResult, type Edge } from './checks.js'
import { killInstance, killNatsNode, restartPostgres, type Fault } from './faults.js'
import { request } from './http.js'
import { Ledger } from './ledger.js'
import { Person } from './person.js'
import { HarnessPostgres } from './postgres.js'
import { buildReport, type FailoverReport } from './report.js'
import { sleep, waitUntil } from './stack-state.js'

export const ALL_SERVICES = ['auth', 'gateway', 'chat', 'files', 'agents', 'web'] as const

export interface FailoverOptions {
  people: number
  conversations: number
  /** services of which one instance is killed, in this order */
  kill: readonly string[]
  natsFault: boolean
  postgresFault: boolean
  /** how long PostgreSQL stays down */
  postgresDownMs: number
  /** steady load before the first fault (the baseline) */
  baselineMs: number
  /** steady load after each recovery before the next fault */
  settleMs: number
  /** instances per service (default 2 of every service) */
  instances?: Record<string, number>
  /** AUTH_RATE_LIMIT_PER_MINUTE of the stack (the shared-budget check spends three times it) */
  authRatePerMinute: number
  log: (line: string) => void
  /** the launcher's output (every instance's log lines) is written here at the end */
  stackLog?: string
}

export const FULL_RUN: Omit<FailoverOptions, 'log'> = {
  people: 20,
  conversations: 4,
  kill: ALL_SERVICES,
  natsFault: true,
  postgresFault: true,
  postgresDownMs: 8000,
  baselineMs: 10_000,
  settleMs: 5000,
  authRatePerMinute: 30
}

/** The CI version: fewer people, shorter pauses, the faults that matter most for messages. */
export const QUICK_RUN: Omit<FailoverOptions, 'log'> = {
  people: 8,
  conversations: 2,
  kill: ['gateway', 'chat', 'auth'],
  // two of the services on the message path only: starting twelve processes is most of a short run
  instances: { auth: 2, gateway: 2, chat: 2 },
  natsFault: true,
  postgresFault: true,
  postgresDownMs: 4000,
  baselineMs: 3000,
  settleMs: 2500,
  authRatePerMinute: 20
}

const PASSWORD = 'failover harness password 1'

async function createConversations(edge: Edge, accounts: Account[], count: number, ledger: Ledger): Promise<string[][]> {
  const byPerson: string[][] = accounts.map(() => [])
  for (let c = 0; c < count; c++) {
    const members = accounts.filter((_, i) => i % count === c)
    if (members.length === 0) continue
    const [owner, ...rest] = members
    const res = await request(edge.base, 'POST', '/api/chat/conversations', {
      address: owner!.address,
      cookie: owner!.cookie,
      origin: edge.origin,
      json: { title: `failover ${c + 1}`, memberIds: rest.map((m) => m.id) }
    })
    if (res.status !== 201) throw new Error(`creating a conversation answered ${res.status}: ${res.body}`)
    const id = (JSON.parse(res.body) as { id: string }).id
    ledger.members.set(
      id,
      members.map((m) => m.id)
    )
    accounts.forEach((a, i) => {
      if (members.includes(a)) byPerson[i]!.push(id)
    })
  }
  return byPerson
}

async function setUp(stack: ThrowawayStack, o: FailoverOptions, ledger: Ledger) {
  const edge: Edge = { base: `http://127.0.0.1:${stack.port}`, origin: stack.origin }
  const stamp = Date.now().toString(36)
  const accounts: Account[] = []
  for (let i = 0; i < o.people; i++) accounts.push(await register(edge, `person-${i}-${stamp}@failover.palisade.example`, PASSWORD, `127.0.1.${i + 1}`))
  const conversations = await createConversations(edge, accounts, o.conversations, ledger)
  const people = accounts.map(
    (a, i) => new Person({ id: a.id, address: a.address, cookie: a.cookie, conversations: conversations[i]! }, edge.base, edge.origin, ledger)
  )
  for (const p of people) p.connect()
  const ready = await Promise.race([Promise.all(people.map((p) => p.ready)).then(() => true), sleep(60_000).then(() => false)])
  if (!ready) throw new Error('not every person got a hello within 60 s')
  const victim = await register(edge, `victim-${stamp}@failover.palisade.example`, PASSWORD, '127.0.2.1')
  const leaving = await register(edge, `leaving-${stamp}@failover.palisade.example`, PASSWORD, '127.0.2.2')
  return { edge, accounts, people, victim, leaving }
}

export async function runFailover(o: FailoverOptions): Promise<FailoverReport> {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-failover-'))
  // PostgreSQL runs as its own user when the harness runs as root: it must reach its directory.
  chmodSync(dir, 0o755)
  const ledger = new Ledger()
  let stack: ThrowawayStack | undefined
  let postgres: HarnessPostgres | undefined
  const people: Person[] = []
  try {
    o.log('starting a PostgreSQL of the harness’s own')
    postgres = await HarnessPostgres.create(join(dir, 'postgres'), await freePort(), randomBytes(18).toString('base64url'))
    const twice = o.instances ? Object.keys(o.instances).join(', ') : 'every service'
    o.log(`starting the stack: 2 instances of ${twice}, 3 NATS nodes (PostgreSQL on ${postgres.port})`)
    stack = await startThrowawayStack({
      databaseUrl: postgres.adminUrl,
      topology: { instances: 2, natsNodes: 3, ...(o.instances ? { perService: o.instances } : {}) },
      env: { AUTH_RATE_LIMIT_PER_MINUTE: String(o.authRatePerMinute) },
      readyTimeoutMs: 300_000
    })
    if (!stack.ready) throw new Error(`the stack did not start:\n${stack.output().slice(-3000)}`)
    const { edge, accounts, people: crowd, victim, leaving } = await setUp(stack, o, ledger)
    people.push(...crowd)

    const checks: CheckResult[] = []
    o.log('checks before the faults: caches, brute-force count, request budget')
    checks.push(await cacheInvalidation(edge, accounts[0]!, crowd[0]!.init.conversations[0]!, 2))
    checks.push(await bruteForce(edge, victim))
    checks.push(await requestBudget(edge, o.authRatePerMinute))

    o.log(`${o.people} people sending a message every 0.5–1 s`)
    for (const p of crowd) p.startSending()
    const baseline = { from: Date.now(), to: Date.now() + o.baselineMs }
    await sleep(o.baselineMs)

    const faults: Fault[] = []
    const record = async (f: Promise<Fault>) => {
      const fault = await f
      faults.push(fault)
      o.log(`${fault.ok ? 'recovered' : 'FAILED'}: ${fault.name}${fault.recoveredAt ? ` in ${fault.recoveredAt - fault.start} ms` : ''}`)
      await sleep(o.settleMs)
    }
    for (const service of o.kill) await record(killInstance(stack.dataDir, service))
    if (o.natsFault) await record(killNatsNode(stack.dataDir))
    if (o.postgresFault) await record(restartPostgres(stack.dataDir, postgres, o.postgresDownMs))

    o.log('load stopped; waiting for the last confirmations and deliveries')
    for (const p of crowd) p.stopSending()
    await waitUntil(() => crowd.every((p) => p.unconfirmed === 0), 60_000, 200)
    await sleep(3000)

    o.log('revocation: sign-out closes the sockets on every gateway instance')
    const sockets = Array.from(
      { length: 4 },
      () => new Person({ id: leaving.id, address: leaving.address, cookie: leaving.cookie, conversations: [] }, edge.base, edge.origin, new Ledger())
    )
    people.push(...sockets)
    for (const s of sockets) {
      s.connect()
      await s.ready
    }
    checks.push(await revocation(edge, leaving, sockets))

    for (const p of people) p.close()
    return await buildReport(ledger, postgres.adminUrl, faults, checks, baseline, o.settleMs)
  } finally {
    for (const p of people) p.close()
    await stack?.stop().catch(() => {})
    if (stack && o.stackLog) writeFileSync(o.stackLog, stack.output())
    await postgres?.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}

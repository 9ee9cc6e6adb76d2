/**
 * The one-command stack (`pnpm start`: the launcher, the local edge, every service in its own
 * process, nats-server from PATH) on a throwaway database, for end-to-end tests and benchmarks.
 * It runs the launcher as a child process, as a user would, and removes the database, the per-service
 * roles the launcher created and the data directory on `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { APP_SERVICES } from '@palisade/contracts'
import { createTestDatabase, freePort, freePortBase, TEST_PG_ADMIN_URL, type TestDatabase } from '@palisade/platform/testing'
import { REPO_ROOT } from '../lib/paths.js'
import { SERVICE_NODE_FLAGS } from './services.js'
import { portsNeeded, type Topology } from './topology.js'

export interface ThrowawayStackOptions {
  /** environment on top of the stack's own (service settings such as AUTH_RATE_LIMIT_PER_MINUTE) */
  env?: Record<string, string>
  /** how long to wait for the launcher's `ready:` line; default 150 s */
  readyTimeoutMs?: number
  /** prefix of the throwaway database's name */
  name?: string
  /** an existing database instead of a new one (a restored backup); still dropped on stop */
  database?: TestDatabase
  /** an existing data directory (its `files/` and `secrets/` are used as they are); removed on stop */
  dataDir?: string
  /** PALISADE_INSTANCES and PALISADE_NATS_CLUSTER (default 1 and 1) */
  topology?: Partial<Topology>
  /** DATABASE_URL of another server (an administrator connection) instead of a test database; left alone on stop */
  databaseUrl?: string
}

export interface ThrowawayStack {
  /** the edge's port on 127.0.0.1 */
  port: number
  /** the edge's metrics listener; service N's is this + its port offset */
  metricsPortBase: number
  /** first NATS client port (node k: + k) */
  natsPort: number
  /** the throwaway database (superuser URL): tests may read or age rows the browser cannot reach */
  databaseUrl: string
  /** `http://localhost:<port>`, the origin the browser sees */
  origin: string
  /** PALISADE_DATA_DIR: the file store is `files/`, the generated secrets `secrets/` (removed on stop) */
  dataDir: string
  child: ChildProcess
  /** whether the launcher printed `ready:` before it exited or the wait ran out */
  ready: boolean
  /** resolves with the launcher's exit code */
  exited: Promise<number | null>
  stdout(): string
  stderr(): string
  /** stdout and stderr interleaved as they arrived */
  output(): string
  /** SIGINT (the launcher stops its services and nats-server), SIGKILL after 15 s, then cleanup */
  stop(): Promise<void>
}

export async function startThrowawayStack(opts: ThrowawayStackOptions = {}): Promise<ThrowawayStack> {
  const db = opts.databaseUrl ? undefined : (opts.database ?? (await createTestDatabase(opts.name ?? 'stack')))
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'palisade-stack-'))
  const port = await freePort()
  const instances = Math.max(opts.topology?.instances ?? 1, ...Object.values(opts.topology?.perService ?? {}))
  const natsNodes = opts.topology?.natsNodes ?? 1
  // One free block for both: services on base+1…base+N, metrics on the N+1 ports after them (two
  // separate picks could overlap).
  const portBase = await freePortBase(2 * portsNeeded(instances) + 1)
  const metricsPortBase = portBase + portsNeeded(instances) + 1
  const natsPort = (await freePortBase(2 * natsNodes)) + 1
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, '--conditions=development', '--import=tsx', join(REPO_ROOT, 'scripts', 'src', 'start.ts')], {
    cwd: join(REPO_ROOT, 'scripts'),
    env: {
      ...process.env,
      DATABASE_URL: opts.databaseUrl ?? db!.url,
      NATS_URL: '',
      PALISADE_DATA_DIR: dataDir,
      PALISADE_PORT: String(port),
      // the launcher's fixed service ports (base+1 … base+N)
      PALISADE_SERVICE_PORT_BASE: String(portBase),
      PALISADE_METRICS_PORT_BASE: String(metricsPortBase),
      PALISADE_NATS_PORT: String(natsPort),
      PALISADE_INSTANCES: opts.topology?.perService
        ? Object.entries(opts.topology.perService)
            .map(([s, n]) => `${s}=${n}`)
            .join(',')
        : String(instances),
      PALISADE_NATS_CLUSTER: String(natsNodes),
      PALISADE_EDGE: 'local',
      // Throwaway stacks register many people and no admin hands out invites; tests of the invite
      // flow set AUTH_REGISTRATION themselves. Their first account is an admin, which the default
      // MFA policy would send to enrolment first; tests of second factors set AUTH_REQUIRE_MFA.
      AUTH_REGISTRATION: 'open',
      AUTH_REQUIRE_MFA: 'none',
      ...opts.env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  // If this process dies without stopping the stack (a tap timeout), SIGINT still reaches the
  // launcher, which then stops its services and nats-server (SIGKILL would orphan them).
  const guard = () => {
    if (child.exitCode === null) child.kill('SIGINT')
  }
  process.once('exit', guard)
  let out = ''
  let err = ''
  let all = ''
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
    all += d.toString()
  })
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
    all += d.toString()
  })
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))

  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    process.removeListener('exit', guard)
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))])
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
    if (db) {
      await db.drop().catch(() => {})
      const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL })
      await admin.connect()
      for (const s of APP_SERVICES) await admin.query(`DROP ROLE IF EXISTS "${`${db.name}_${s}`.slice(0, 63)}"`).catch(() => {})
      await admin.end()
    }
    rmSync(dataDir, { recursive: true, force: true })
  }

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 150_000)
  while (!out.includes('ready: ') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
  return {
    port,
    metricsPortBase,
    natsPort,
    databaseUrl: opts.databaseUrl ?? db!.url,
    origin: `http://localhost:${port}`,
    dataDir,
    child,
    ready: out.includes('ready: '),
    exited,
    stdout: () => out,
    stderr: () => err,
    output: () => all,
    stop
  }
}

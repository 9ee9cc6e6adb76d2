// `pnpm start`: the whole Palisade stack on one port, on a machine with Node and (optionally) nothing else.
//
//   PostgreSQL  DATABASE_URL (an administrator connection) or an embedded server under .data/postgres
//   NATS        NATS_URL, or nats-server from PATH with the generated deploy/nats/nats.conf
//   secrets     generated once under .data/secrets (signing key, DB and NATS passwords)
//   services    every services/<name> that has a real app, as child processes on fixed ports
//   edge        the local edge (ForwardAuth semantics) on PALISADE_PORT/PORT (default 8080), or real
//               Traefik with the generated config when a `traefik` binary is on PATH
//
// Ctrl-C stops everything in reverse order; a service that dies stops the stack with a message.
//
// Instances mode (docs/failover.md): PALISADE_INSTANCES=N runs N processes of every service, which the
// edge balances, and starts each again when it dies; PALISADE_NATS_CLUSTER=M runs M clustered
// nats-servers. The running processes are listed in <data dir>/stack.json.
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { filesMaxBytesFrom, routesFor, type ServiceName } from '@palisade/contracts'
import { initTracing, provisionServiceRoles, ServiceMetrics, startMetricsServer } from '@palisade/platform'
import { REPO_ROOT } from './lib/paths.js'
import { ensureSecrets, serviceDatabaseUrl } from './deploy/secrets.js'
import { stackDatabaseRoles } from './deploy/db-roles.js'
import { createEdge, type Edge } from './edge/edge.js'
import { findTraefik, startLocalTraefik, type LocalTraefik } from './edge/traefik-runner.js'
import { NATS_MISSING, findNatsServer, startNats, type StackNats } from './stack/nats.js'
import { startNatsCluster, type StackNatsCluster } from './stack/nats-cluster.js'
import { startPostgres, type StackPostgres } from './stack/postgres.js'
import { Supervised } from './stack/supervisor.js'
import { instanceName, instancePort, instancesOf, parseTopology } from './stack/topology.js'
import {
  DEFAULT_EDGE_PORT,
  DEFAULT_METRICS_PORT,
  DEFAULT_EMBEDDED_PG_PORT,
  DEFAULT_NATS_PORT,
  DEFAULT_SERVICE_PORT_BASE,
  DATA_SERVICES,
  LOCAL_EDGE_TRUSTED_PROXIES,
  SERVICE_NODE_FLAGS,
  STACK_SERVICES,
  isRunnable,
  ownsData,
  serviceDir,
  type StackService
} from './stack/services.js'

const env = process.env
const say = (m: string) => process.stdout.write(`palisade: ${m}\n`)
const shout = (m: string) => process.stderr.write(`palisade: ${m}\n`)

function intVar(name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    shout(`${name} must be a port number, got ${JSON.stringify(raw)}`)
    process.exit(2)
  }
  return n
}

const dataDir = resolve(env.PALISADE_DATA_DIR ?? join(REPO_ROOT, '.data'))
const edgePort = intVar('PALISADE_PORT', intVar('PORT', DEFAULT_EDGE_PORT))
const portBase = intVar('PALISADE_SERVICE_PORT_BASE', DEFAULT_SERVICE_PORT_BASE)
// Metrics listeners: the edge on the base, each service on base + its port offset.
const metricsPortBase = intVar('PALISADE_METRICS_PORT_BASE', DEFAULT_METRICS_PORT)
const logLevel = env.PALISADE_LOG_LEVEL ?? 'warn'
const useTraefik = env.PALISADE_EDGE !== 'local' ? findTraefik() : undefined
const topology = (() => {
  try {
    return parseTopology(env)
  } catch (err) {
    shout((err as Error).message)
    process.exit(2)
  }
})()
const several = topology.instances > 1

interface Running {
  service: StackService
  instance: number
  name: string
  port: number
  metricsPort: number
  process: Supervised
}

let stopping = false
let postgres: StackPostgres | undefined
let nats: StackNats | StackNatsCluster | undefined
let edge: Edge | undefined
let traefik: LocalTraefik | undefined
const running: Running[] = []

async function stopAll(code: number): Promise<never> {
  if (stopping) return new Promise<never>(() => {})
  stopping = true
  say('stopping…')
  await edge?.close().catch(() => {})
  await traefik?.stop().catch(() => {})
  await Promise.all(running.map((r) => r.process.stop()))
  await nats?.stop().catch(() => {})
  await postgres?.stop().catch(() => {})
  say('stopped')
  process.exit(code)
}

process.on('SIGINT', () => void stopAll(0))
process.on('SIGTERM', () => void stopAll(0))

function pipeLines(stream: NodeJS.ReadableStream | null, prefix: string, out: NodeJS.WriteStream, keep: string[]): void {
  if (!stream) return
  createInterface({ input: stream }).on('line', (line) => {
    keep.push(line)
    if (keep.length > 20) keep.shift()
    out.write(`${prefix} ${line}\n`)
  })
}

async function waitHealthy(name: string, port: number, proc: Supervised, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (!several && proc.child.exitCode !== null) throw new Error(`${name} exited during start-up`)
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`)
      if (r.ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`${name} did not answer /healthz on port ${port} within 90 s`)
}

async function main(): Promise<void> {
  // Fail before starting anything when NATS cannot be had.
  if (!env.NATS_URL && !findNatsServer()) throw new Error(NATS_MISSING)
  mkdirSync(dataDir, { recursive: true })
  const secrets = ensureSecrets(join(dataDir, 'secrets'))

  postgres = await startPostgres({
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    dataDir,
    port: intVar('PALISADE_PG_PORT', DEFAULT_EMBEDDED_PG_PORT),
    password: secrets.postgresPassword,
    log: shout
  })
  say(
    postgres.embedded
      ? `PostgreSQL: embedded, 127.0.0.1:${postgres.port} (data in ${join(dataDir, 'postgres')})`
      : `PostgreSQL: DATABASE_URL (${postgres.host}:${postgres.port}/${postgres.database})`
  )

  for (const w of await provisionServiceRoles(postgres.adminUrl, postgres.database, stackDatabaseRoles(postgres.database, DATA_SERVICES, secrets.dbPasswords)))
    shout(`PostgreSQL: ${w}`)

  const natsPort = intVar('PALISADE_NATS_PORT', DEFAULT_NATS_PORT)
  if (topology.natsNodes > 1 && !env.NATS_URL) {
    nats = await startNatsCluster({
      dataDir,
      basePort: natsPort,
      nodes: topology.natsNodes,
      passwords: secrets.natsPasswords,
      log: shout,
      onSpawn: () => writeState()
    })
    say(`NATS: a cluster of ${topology.natsNodes} nats-servers (${nats.url}) with deploy/nats/nats.conf`)
  } else {
    nats = await startNats({
      ...(env.NATS_URL ? { natsUrl: env.NATS_URL } : {}),
      dataDir,
      port: natsPort,
      passwords: secrets.natsPasswords,
      log: shout,
      onExit: (code) => {
        if (!stopping) {
          shout(`nats-server exited with code ${code}; stopping the stack`)
          void stopAll(1)
        }
      }
    })
    say(nats.managed ? `NATS: nats-server ${nats.url} with deploy/nats/nats.conf (one user per service)` : `NATS: NATS_URL (${nats.url})`)
  }

  const origin = `http://localhost:${edgePort}`
  const allowedOrigins = env.PALISADE_ORIGINS ?? `${origin},http://127.0.0.1:${edgePort}`
  const ctx = { dataDir, secretsDir: secrets.dir, edgeOrigin: origin }
  const passthrough = Object.fromEntries(
    Object.entries(env).filter(
      ([k]) =>
        !/^(PORT|HOST|DATABASE_URL|NATS_URL|NATS_USER|NATS_PASSWORD|LOG_LEVEL|NODE_ENV|ALLOWED_ORIGINS|TRUSTED_PROXIES)(_FILE)?$/.test(k) &&
        !k.startsWith('PALISADE_')
    )
  )
  const runnable = STACK_SERVICES.filter((s) => isRunnable(s.name))
  const skipped = STACK_SERVICES.filter((s) => !runnable.includes(s)).map((s) => s.name)
  if (skipped.length) say(`not started (no app yet): ${skipped.join(', ')}`)
  if (!runnable.some((s) => s.name === 'auth')) throw new Error('services/auth has no app: nothing can authenticate')

  // One instance of everything at a time: the first runs the migrations, and a small machine is not
  // asked to start every process at once.
  for (let instance = 0; instance < topology.instances; instance++) {
    const batch: Running[] = []
    for (const service of runnable) {
      if (instance >= instancesOf(topology, service.name)) continue
      const port = instancePort(portBase, service, instance)
      const metricsPort = instancePort(metricsPortBase, service, instance)
      const name = instanceName(service.name, instance, instancesOf(topology, service.name))
      const childEnv: NodeJS.ProcessEnv = {
        ...passthrough,
        NODE_ENV: 'development',
        HOST: '127.0.0.1',
        PORT: String(port),
        METRICS_PORT: String(metricsPort),
        LOG_LEVEL: logLevel,
        ...(ownsData(service.name)
          ? { DATABASE_URL: serviceDatabaseUrl(service.name, secrets.dbPasswords[service.name], postgres.host, postgres.port, postgres.database) }
          : {}),
        NATS_URL: nats.url,
        ...(nats.managed ? { NATS_USER: service.name, NATS_PASSWORD_FILE: join(secrets.dir, `${service.name}_nats_password`) } : {}),
        ALLOWED_ORIGINS: allowedOrigins,
        // Per-address limits must see the client the edge saw, not the edge.
        TRUSTED_PROXIES: LOCAL_EDGE_TRUSTED_PROXIES,
        ...service.env?.(ctx)
      }
      const tail: string[] = []
      const proc = new Supervised({
        name,
        command: process.execPath,
        args: [...SERVICE_NODE_FLAGS, '--conditions=development', '--import=tsx', join('src', 'server.ts')],
        spawn: { cwd: serviceDir(service.name), env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] },
        restart: several,
        onSpawn: (child: ChildProcess) => {
          pipeLines(child.stdout, `[${name}]`, process.stdout, tail)
          pipeLines(child.stderr, `[${name}]`, process.stderr, tail)
          writeState()
        },
        onExit: ({ code, signal, restarting }) => {
          if (restarting) return shout(`${name} exited (${signal ?? `code ${code}`}); starting it again`)
          shout(`${name} exited (${signal ?? `code ${code}`}); stopping the stack. Its last lines:`)
          for (const l of tail.slice(-10)) shout(`  ${l}`)
          void stopAll(1)
        }
      })
      batch.push({ service, instance, name, port, metricsPort, process: proc })
    }
    running.push(...batch)
    writeState()
    const deadline = Date.now() + 90_000
    await Promise.all(batch.map((r) => waitHealthy(r.name, r.port, r.process, deadline)))
  }
  say(`services: ${running.map((r) => `${r.name}@${r.port}`).join(', ')}`)
  writeState()

  const upstreams: Partial<Record<ServiceName, string[]>> = {}
  for (const r of running) upstreams[r.service.name] = [...(upstreams[r.service.name] ?? []), `http://127.0.0.1:${r.port}`]
  const authVerifyUrls = upstreams.auth!.map((u) => `${u}/auth/verify`)
  // The edge's upload limit follows the FILES_MAX_BYTES the files service gets (same environment).
  const filesMaxBytes = filesMaxBytesFrom(env)
  const routes = routesFor(filesMaxBytes ? { filesMaxBytes } : {})
  if (useTraefik) {
    traefik = await startLocalTraefik({
      routes,
      binary: useTraefik,
      dir: join(dataDir, 'traefik'),
      port: edgePort,
      pingPort: intVar('PALISADE_TRAEFIK_PING_PORT', edgePort + 1),
      upstreams,
      authVerifyUrl: authVerifyUrls[0]!,
      otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined,
      onExit: (code) => {
        if (!stopping) {
          shout(`traefik exited with code ${code}; stopping the stack`)
          void stopAll(1)
        }
      }
    })
    say(`edge: Traefik (${useTraefik}) with the generated configuration`)
  } else {
    initTracing({ service: 'edge', otlpEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT })
    const edgeMetrics = new ServiceMetrics('edge')
    const metricsServer = await startMetricsServer(edgeMetrics.registry, '127.0.0.1', metricsPortBase)
    say(`metrics: ${metricsServer.url}/metrics (edge), services on the next ports`)
    edge = createEdge({
      routes,
      upstreams,
      authVerifyUrl: authVerifyUrls,
      metrics: edgeMetrics,
      logRequests: logLevel === 'info' || logLevel === 'debug',
      log: (e) => {
        if (e.level !== 'info' || logLevel === 'info' || logLevel === 'debug') process.stdout.write(`[edge] ${JSON.stringify(e)}\n`)
      }
    })
    await edge.listen(edgePort, env.PALISADE_HOST ?? '127.0.0.1')
    say('edge: local edge (undici, http-proxy-3 for WebSockets; ForwardAuth semantics)')
  }
  say(`ready: ${origin}   (Ctrl-C stops everything)`)
}

/**
 * <data dir>/stack.json: every process the launcher runs now (pids change as instances are started
 * again), for tools such as the failover harness.
 */
function writeState(): void {
  if (!several && !(nats && 'nodes' in nats)) return
  const state = {
    edgePort,
    instances: running.map((r) => ({ service: r.service.name, name: r.name, port: r.port, metricsPort: r.metricsPort, pid: r.process.pid ?? null })),
    nats: nats && 'nodes' in nats ? nats.nodes.map((n) => ({ name: n.name, port: n.port, pid: n.process.pid ?? null })) : []
  }
  // Written aside and renamed: a reader (the failover harness) never sees half a file.
  const file = join(dataDir, 'stack.json')
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`)
  renameSync(`${file}.tmp`, file)
}

main().catch(async (err: Error) => {
  shout(err.message)
  await stopAll(1)
})

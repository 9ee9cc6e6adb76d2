// Mode 1 of the network-isolation suite (`pnpm isolation`): builds the namespace topology
// (netns.ts), starts the stack inside it — PostgreSQL, NATS with deploy/nats/nats.conf and every
// service in `int`, the local edge in `edge` — and runs the probes from `attacker` and `client`
// with probe-cli.ts, the same runner Mode 2 uses in containers.
//
//   pnpm isolation [--junit <file>]                  probe the stack as designed
//   pnpm isolation --broken publish --broken no-strip  start the edge misconfigured (must fail)
//   pnpm isolation --self-test [--broken-junit <f>]   probe, then restart the edge misconfigured on
//                                                     the same stack and probe again: passes only
//                                                     when the first round passes and the second
//                                                     catches both faults (probes 1 and 2)
//
// Exit 0: every probe passed; 1: a probe failed; 2: the suite could not run (with the reason).
// Namespaces and every process in them are removed on exit, on failure and on SIGINT/SIGTERM; a
// run also sweeps namespaces left by earlier runs that were killed outright.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { APP_SERVICES } from '@palisade/contracts'
import { connectWhenReady, provisionServiceRoles } from '@palisade/platform'
import { REPO_ROOT, DEPLOY_DIR } from '../lib/paths.js'
import { which } from '../lib/which.js'
import { ensureSecrets, serviceDatabaseUrl } from '../deploy/secrets.js'
import { stackDatabaseRoles } from '../deploy/db-roles.js'
import { PASSWORDS_INCLUDE, renderPasswords } from '../nats/config.js'
import { DATA_SERVICES, DEFAULT_SERVICE_PORT_BASE, STACK_SERVICES, isRunnable, ownsData, serviceDir } from '../stack/services.js'
import { ADDR, createTopology, destroyTopology, netnsUnavailable, sweepStale, type Topology } from './netns.js'
import { findPostgresBin, initPostgresCluster } from './pg-cluster.js'
import { renderJUnit, renderTable } from './report.js'
import type { ProbeResult, Targets } from './types.js'

export const EDGE_PORT = 8080
export const NATS_PORT = 4222
export const PG_PORT = 5432
export const EGRESS_PORT = 7070
const PROBE_CLI = join(REPO_ROOT, 'scripts', 'src', 'isolation', 'probe-cli.ts')
const EDGE_CLI = join(REPO_ROOT, 'scripts', 'src', 'isolation', 'edge-cli.ts')
const TSX = ['--conditions=development', '--import=tsx']

export type Broken = 'no-strip' | 'publish'

export interface RunOptions {
  /** start the edge misconfigured on purpose (the suite must then fail) */
  broken?: Broken[]
  /** after the probes, restart the edge with these misconfigurations and probe again */
  selfTest?: Broken[]
  log?: (m: string) => void
}

/** Listening TCP ports inside a namespace (from its /proc/net/tcp, no tools needed). */
function listening(ns: string): Set<string> {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/tcp'], { encoding: 'utf8' })
  const out = new Set<string>()
  for (const line of (r.stdout ?? '').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f[3] !== '0A' || !f[1]) continue
    const [hex, port] = f[1].split(':')
    const a = hex!
      .match(/../g)!
      .reverse()
      .map((h) => parseInt(h, 16))
      .join('.')
    out.add(`${a}:${parseInt(port!, 16)}`)
  }
  return out
}

export async function runIsolation(opts: RunOptions = {}): Promise<{ results: ProbeResult[]; brokenResults?: ProbeResult[]; ms: number }> {
  const say = opts.log ?? ((m: string) => process.stderr.write(`isolation: ${m}\n`))
  const started = Date.now()
  const why = netnsUnavailable()
  if (why) throw Object.assign(new Error(why), { skip: true })
  const pgBin = findPostgresBin()
  if (!pgBin) throw Object.assign(new Error('no PostgreSQL server binaries (initdb, postgres) found'), { skip: true })
  const natsBin = which('nats-server')!
  const swept = sweepStale()
  if (swept.length) say(`swept ${swept.length} namespaces of earlier aborted runs`)

  const children: ChildProcess[] = []
  let topo: Topology | undefined
  const dir = mkdtempSync(join(tmpdir(), 'palisade-isolation-'))
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    if (topo) destroyTopology(topo)
    topo = undefined
    rmSync(dir, { recursive: true, force: true })
  }
  const onSignal = (sig: NodeJS.Signals) => {
    say(`${sig}: removing namespaces and processes`)
    cleanup()
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const exited = new Map<ChildProcess, string>()
  function start(name: string, ns: string, argv: string[], env: NodeJS.ProcessEnv = process.env, cwd = REPO_ROOT): ChildProcess {
    const logFile = join(dir, `${name}.log`)
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const log = createWriteStream(logFile)
    child.stdout!.pipe(log)
    child.stderr!.pipe(log)
    child.once('exit', (code, sig) => exited.set(child, `${name} exited (${sig ?? code})`))
    children.push(child)
    return child
  }
  const tail = (name: string) => {
    try {
      return readFileSync(join(dir, `${name}.log`), 'utf8')
        .split('\n')
        .slice(-15)
        .join('\n')
    } catch {
      return ''
    }
  }
  async function waitListening(ns: string, addrs: string[], what: string, limitMs: number, watch: [ChildProcess, string][]): Promise<void> {
    const deadline = Date.now() + limitMs
    for (;;) {
      const open = listening(ns)
      const missing = addrs.filter((a) => !open.has(a))
      if (missing.length === 0) return
      for (const [c, name] of watch) if (exited.has(c)) throw new Error(`${exited.get(c)} while starting:\n${tail(name)}`)
      if (Date.now() > deadline)
        throw new Error(`${what}: nothing listens on ${missing.join(', ')} after ${limitMs / 1000} s\n${watch.map(([, n]) => `${n}:\n${tail(n)}`).join('\n')}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  try {
    topo = createTopology()
    const { ns } = topo
    say(`topology ${topo.id}: ${Object.values(ns).join(', ')}`)
    const secrets = ensureSecrets(join(dir, 'secrets'))

    // PostgreSQL: a throwaway cluster inside `int`, bound to the internal address only. The runner
    // (outside every namespace) reaches it for set-up through its Unix socket alone.
    const cluster = initPostgresCluster(dir, pgBin, { host: ADDR.internal, port: PG_PORT, clientCidr: `${ADDR.internal.replace(/\.\d+$/, '.0')}/24` })
    const pgSock = cluster.socketDir
    const pgProc = start('postgres', ns.int, cluster.serve)

    // NATS with the production configuration and this run's passwords.
    const natsDir = join(dir, 'nats')
    mkdirSync(natsDir, { mode: 0o700 })
    copyFileSync(join(DEPLOY_DIR, 'nats', 'nats.conf'), join(natsDir, 'nats.conf'))
    writeFileSync(join(natsDir, PASSWORDS_INCLUDE), renderPasswords(secrets.natsPasswords), { mode: 0o600 })
    const natsProc = start('nats', ns.int, [natsBin, '-c', join(natsDir, 'nats.conf'), '-a', ADDR.internal, '-p', String(NATS_PORT)])

    await waitListening(ns.int, [`${ADDR.internal}:${PG_PORT}`, `${ADDR.internal}:${NATS_PORT}`], 'PostgreSQL and NATS', 30_000, [
      [pgProc, 'postgres'],
      [natsProc, 'nats']
    ])
    const adminUrl = (db: string) => `postgres://postgres@/${db}?host=${encodeURIComponent(pgSock)}&port=${PG_PORT}`
    const admin = await connectWhenReady(adminUrl('postgres'))
    await admin.query('CREATE DATABASE palisade')
    await admin.end()
    await provisionServiceRoles(adminUrl('palisade'), 'palisade', stackDatabaseRoles('palisade', DATA_SERVICES, secrets.dbPasswords))

    // The services, each as the launcher starts it, but bound to the internal address.
    const origin = `http://${ADDR.edgePublic}:${EDGE_PORT}`
    const runnable = STACK_SERVICES.filter((s) => isRunnable(s.name))
    const portOf = (s: string) => DEFAULT_SERVICE_PORT_BASE + runnable.find((x) => x.name === s)!.portOffset
    const ctx = { dataDir: dir, secretsDir: secrets.dir, edgeOrigin: origin }
    const base: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(PATH|HOME|LANG|TZ|NODE_OPTIONS)$/.test(k)))
    const procs: [ChildProcess, string][] = [
      [pgProc, 'postgres'],
      [natsProc, 'nats']
    ]
    const dbPassword = (name: string) => (secrets.dbPasswords as Record<string, string>)[name]!
    const hasNatsUser = (name: string) => (APP_SERVICES as readonly string[]).includes(name)
    for (const s of runnable) {
      const env: NodeJS.ProcessEnv = {
        ...base,
        NODE_ENV: 'development',
        HOST: ADDR.internal,
        PORT: String(portOf(s.name)),
        // Every service shares this namespace's loopback: any free metrics port, not the default.
        METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
        ...(ownsData(s.name) ? { DATABASE_URL: serviceDatabaseUrl(s.name, dbPassword(s.name), ADDR.internal, PG_PORT, 'palisade') } : {}),
        NATS_URL: `nats://${ADDR.internal}:${NATS_PORT}`,
        ...(hasNatsUser(s.name) ? { NATS_USER: s.name, NATS_PASSWORD_FILE: join(secrets.dir, `${s.name}_nats_password`) } : {}),
        ALLOWED_ORIGINS: origin,
        TRUSTED_PROXIES: ADDR.edgeInternal,
        // The probes register two throwaway users on this fresh installation (no admin hands out
        // invites) and sign in with the password alone (the first account is an admin).
        ...(s.name === 'auth' ? { AUTH_REGISTRATION: 'open', AUTH_REQUIRE_MFA: 'none' } : {}),
        ...s.env?.(ctx)
      }
      procs.push([start(s.name, ns.int, [process.execPath, ...TSX, join('src', 'server.ts')], env, serviceDir(s.name)), s.name])
    }
    const egressProc = start('egress-target', ns.client, [process.execPath, ...TSX, PROBE_CLI, '--listen', `${ADDR.client}:${EGRESS_PORT}`])
    const upstreams = Object.fromEntries(runnable.map((s) => [s.name, `http://${ADDR.internal}:${portOf(s.name)}`]))
    const startEdge = (name: string, broken: Broken[]) =>
      start(name, ns.edge, [
        process.execPath,
        ...TSX,
        EDGE_CLI,
        '--listen',
        `${ADDR.edgePublic}:${EDGE_PORT}`,
        '--upstreams',
        JSON.stringify(upstreams),
        '--auth-verify',
        `http://${ADDR.internal}:${portOf('auth')}/auth/verify`,
        ...broken.flatMap((b) => ['--broken', b === 'publish' ? `publish=${ADDR.edgePublic}:${portOf('chat')}>${ADDR.internal}:${portOf('chat')}` : b])
      ])
    let edgeProc = startEdge('edge', opts.broken ?? [])
    await waitListening(
      ns.int,
      runnable.map((s) => `${ADDR.internal}:${portOf(s.name)}`),
      'services',
      120_000,
      procs
    )
    await waitListening(ns.edge, [`${ADDR.edgePublic}:${EDGE_PORT}`], 'edge', 60_000, [[edgeProc, 'edge']])
    await waitListening(ns.client, [`${ADDR.client}:${EGRESS_PORT}`], 'egress target', 60_000, [[egressProc, 'egress-target']])
    say(`stack up in ${((Date.now() - started) / 1000).toFixed(1)} s${opts.broken?.length ? ` (BROKEN on purpose: ${opts.broken.join(', ')})` : ''}`)

    const servicePorts = runnable.map((s) => ({ name: s.name, port: portOf(s.name) }))
    const targets: Targets = {
      client: {
        edgeUrl: origin,
        origin,
        mustBeUnreachable: [
          ...[...servicePorts, { name: 'nats', port: NATS_PORT }, { name: 'postgres', port: PG_PORT }].map((p) => ({
            name: `${p.name} (internal address)`,
            host: ADDR.internal,
            port: p.port
          })),
          ...[...servicePorts, { name: 'nats', port: NATS_PORT }, { name: 'postgres', port: PG_PORT }].map((p) => ({
            name: `${p.name} port on the edge host`,
            host: ADDR.edgePublic,
            port: p.port
          })),
          { name: 'edge host, internal side', host: ADDR.edgeInternal, port: EDGE_PORT }
        ]
      },
      attacker: {
        services: Object.fromEntries(runnable.filter((s) => s.name !== 'auth').map((s) => [s.name, upstreams[s.name]!])),
        authUrl: upstreams.auth!,
        origin,
        natsUrl: `nats://${ADDR.internal}:${NATS_PORT}`,
        natsPasswords: Object.fromEntries(
          runnable.filter((s) => hasNatsUser(s.name)).map((s) => [s.name, `file:${join(secrets.dir, `${s.name}_nats_password`)}`])
        ),
        databaseUrls: Object.fromEntries(DATA_SERVICES.map((s) => [s, serviceDatabaseUrl(s, secrets.dbPasswords[s], ADDR.internal, PG_PORT, 'palisade')])),
        signingKey: `file:${join(secrets.dir, 'auth_signing_keys')}`,
        egress: [
          { name: 'client host', host: ADDR.client, port: EGRESS_PORT },
          { name: 'edge, public side', host: ADDR.edgePublic, port: EDGE_PORT }
        ]
      }
    }
    const targetsFile = join(dir, 'targets.json')
    writeFileSync(targetsFile, JSON.stringify(targets, null, 2), { mode: 0o600 })
    let round = 0
    const phase = (as: 'attacker' | 'client', nsName: string, extra: string[]) =>
      new Promise<ProbeResult[]>((resolve, reject) => {
        const out = join(dir, `${as}-results-${round}.json`)
        const p = start(`probe-${as}`, nsName, [
          process.execPath,
          ...TSX,
          PROBE_CLI,
          '--as',
          as,
          '--targets',
          targetsFile,
          '--results',
          out,
          '--quiet',
          ...extra
        ])
        p.once('exit', (code) => {
          if (existsSync(out)) return resolve(JSON.parse(readFileSync(out, 'utf8')) as ProbeResult[])
          reject(new Error(`probe-cli --as ${as} exited ${code} without results:\n${tail(`probe-${as}`)}`))
        })
      })
    const probeAll = async (): Promise<ProbeResult[]> => {
      round++
      const stateFile = join(dir, `state-${round}.json`)
      const attacker = await phase('attacker', ns.attacker, ['--state-out', stateFile])
      const client = await phase('client', ns.client, ['--state-in', stateFile])
      return [...client, ...attacker].sort((a, b) => a.id - b.id)
    }
    const results = await probeAll()
    let brokenResults: ProbeResult[] | undefined
    if (opts.selfTest?.length) {
      // Same stack, the edge replaced by a deliberately misconfigured one: the suite must notice.
      const old = edgeProc
      await new Promise<void>((r) => {
        if (old.exitCode !== null || old.signalCode !== null) return r()
        old.once('exit', () => r())
        old.kill('SIGKILL')
      })
      edgeProc = startEdge('edge-broken', opts.selfTest)
      await waitListening(ns.edge, [`${ADDR.edgePublic}:${EDGE_PORT}`], 'broken edge', 60_000, [[edgeProc, 'edge-broken']])
      say(`self-test: the edge restarted BROKEN on purpose (${opts.selfTest.join(', ')})`)
      brokenResults = await probeAll()
    }
    const dead = [...exited.values()].filter((m) => !/probe-|egress|edge/.test(m))
    if (dead.length) say(`note: ${dead.join('; ')}`)
    return { results, ...(brokenResults ? { brokenResults } : {}), ms: Date.now() - started }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    cleanup()
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { junit: { type: 'string' }, broken: { type: 'string', multiple: true }, 'self-test': { type: 'boolean' }, 'broken-junit': { type: 'string' } }
  })
  const broken = (values.broken ?? []) as Broken[]
  for (const b of broken)
    if (b !== 'no-strip' && b !== 'publish') throw Object.assign(new Error(`--broken takes no-strip or publish, not ${b}`), { skip: true })
  const selfTest: Broken[] | undefined = values['self-test'] ? ['publish', 'no-strip'] : undefined
  const { results, brokenResults, ms } = await runIsolation({ broken, ...(selfTest ? { selfTest } : {}) })
  process.stdout.write(renderTable(results))
  if (values.junit) writeFileSync(values.junit, renderJUnit(results))
  let ok = results.every((r) => r.pass)
  if (brokenResults) {
    process.stdout.write(`\n── self-test: the same probes against a deliberately broken edge (${selfTest!.join(', ')}); they must FAIL ──\n`)
    process.stdout.write(renderTable(brokenResults))
    if (values['broken-junit']) writeFileSync(values['broken-junit'], renderJUnit(brokenResults, 'palisade-isolation-self-test'))
    const caught = (id: number) => brokenResults.find((r) => r.id === id)?.pass === false
    const noticed = caught(1) && caught(2)
    process.stdout.write(
      noticed
        ? 'self-test: the suite caught the published port (probe 1) and the unstripped identity headers (probe 2)\n'
        : 'self-test: FAILED — the suite did not notice the broken edge\n'
    )
    ok &&= noticed
  }
  process.stdout.write(`run time ${(ms / 1000).toFixed(1)} s\n`)
  process.exit(ok ? 0 : 1)
}

if (process.argv[1] && /isolation[\\/]runner\.(ts|js)$/.test(process.argv[1])) {
  main().catch((err: Error & { skip?: boolean }) => {
    process.stderr.write(`isolation: ${err.skip ? 'cannot run: ' : ''}${err.message}\n`)
    process.exit(2)
  })
}

import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { which } from '../lib/which.js'

/**
 * Mode 1 topology: four network namespaces and two segments, nothing routed between them.
 *
 *   client 10.231.1.2 ──veth── 10.231.1.1 edge 10.231.2.2 ──veth──┐
 *              (public segment)                                    br0 10.231.2.1 in int
 *                                        attacker 10.231.2.3 ──veth──┘   (internal segment)
 *
 * `int` holds the services, NATS and PostgreSQL (all bound to 10.231.2.1); `edge` holds the local
 * edge, listening on the public side and talking to the services on the internal side; it does not
 * forward packets (ip_forward=0) and no namespace has a route to the other segment. Names carry the
 * creating process id, so a later run can sweep what an aborted one left behind.
 */
export const ADDR = {
  client: '10.231.1.2',
  edgePublic: '10.231.1.1',
  edgeInternal: '10.231.2.2',
  internal: '10.231.2.1',
  attacker: '10.231.2.3'
} as const

export interface Topology {
  id: string
  ns: { client: string; edge: string; int: string; attacker: string }
}

const PREFIX = 'pal-'
const NAME = /^pal-(\d+)-([a-z0-9]+)-(client|edge|int|attacker)$/

/** Why Mode 1 cannot run here, or undefined when it can (root, `ip` on PATH, namespaces allowed). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'network namespaces need root (run as root or use Mode 2, deploy/isolation/)'
  if (!which('ip')) return '`ip` (iproute2) is not on PATH'
  if (!which('nats-server')) return 'nats-server is not on PATH'
  const probe = `${PREFIX}${process.pid}-probe${randomBytes(2).toString('hex')}-int`
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' })
  if (r.status !== 0) return `cannot create a network namespace: ${r.stderr.trim()}`
  spawnSync('ip', ['netns', 'del', probe])
  return undefined
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function nsExec(ns: string, ...args: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
}

export function listNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0]!.trim())
    .filter(Boolean)
}

/** SIGKILLs every process running in the namespace, then deletes it. Never throws. */
export function destroyNamespace(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? ''
  for (const pid of pids.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL')
    } catch {}
  }
  spawnSync('ip', ['netns', 'del', ns])
}

/** Deletes namespaces left by earlier runs whose process is gone. Returns their names. */
export function sweepStale(): string[] {
  const swept: string[] = []
  for (const ns of listNamespaces()) {
    const m = NAME.exec(ns)
    if (!m) continue
    if (Number(m[1]) !== process.pid && existsSync(`/proc/${m[1]}`)) continue
    if (Number(m[1]) === process.pid) continue
    destroyNamespace(ns)
    swept.push(ns)
  }
  return swept
}

export function createTopology(): Topology {
  const id = `${process.pid}-${randomBytes(3).toString('hex')}`
  const ns = { client: `${PREFIX}${id}-client`, edge: `${PREFIX}${id}-edge`, int: `${PREFIX}${id}-int`, attacker: `${PREFIX}${id}-attacker` }
  const topo: Topology = { id, ns }
  try {
    for (const n of Object.values(ns)) {
      ip('netns', 'add', n)
      ip('-n', n, 'link', 'set', 'lo', 'up')
      nsExec(n, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=0')
    }
    // public segment: client ↔ edge
    ip('link', 'add', 'pub0', 'netns', ns.client, 'type', 'veth', 'peer', 'name', 'pub0', 'netns', ns.edge)
    ip('-n', ns.client, 'addr', 'add', `${ADDR.client}/24`, 'dev', 'pub0')
    ip('-n', ns.edge, 'addr', 'add', `${ADDR.edgePublic}/24`, 'dev', 'pub0')
    // internal segment: a bridge in int; edge and attacker attached to it
    ip('-n', ns.int, 'link', 'add', 'br0', 'type', 'bridge')
    ip('-n', ns.int, 'addr', 'add', `${ADDR.internal}/24`, 'dev', 'br0')
    ip('link', 'add', 'int0', 'netns', ns.edge, 'type', 'veth', 'peer', 'name', 'vedge', 'netns', ns.int)
    ip('link', 'add', 'int0', 'netns', ns.attacker, 'type', 'veth', 'peer', 'name', 'vatt', 'netns', ns.int)
    ip('-n', ns.edge, 'addr', 'add', `${ADDR.edgeInternal}/24`, 'dev', 'int0')
    ip('-n', ns.attacker, 'addr', 'add', `${ADDR.attacker}/24`, 'dev', 'int0')
    ip('-n', ns.int, 'link', 'set', 'vedge', 'master', 'br0')
    ip('-n', ns.int, 'link', 'set', 'vatt', 'master', 'br0')
    for (const [n, dev] of [
      [ns.client, 'pub0'],
      [ns.edge, 'pub0'],
      [ns.edge, 'int0'],
      [ns.attacker, 'int0'],
      [ns.int, 'br0'],
      [ns.int, 'vedge'],
      [ns.int, 'vatt']
    ] as const)
      ip('-n', n, 'link', 'set', dev, 'up')
  } catch (err) {
    destroyTopology(topo)
    throw new Error(`building the namespaces failed: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`)
  }
  return topo
}

export function destroyTopology(t: Topology): void {
  for (const n of Object.values(t.ns)) destroyNamespace(n)
}

/** argv prefix that runs a command inside a namespace. */
export function inNs(ns: string, argv: string[]): [string, string[]] {
  return ['ip', ['netns', 'exec', ns, ...argv]]
}

import { STACK_SERVICES, type StackService } from './services.js'

/**
 * How many of each the launcher runs: `PALISADE_INSTANCES` processes of every service (`2`), or of
 * the services named (`auth=2,chat=2`, the others 1), and `PALISADE_NATS_CLUSTER` nats-server nodes
 * (1 each by default: the plain one-process stack).
 *
 * Ports are laid out in blocks so that a single free range serves any topology: instance `i` of a
 * service with offset `o` listens on `base + o + i * STACK_SERVICES.length` (instance 0 keeps the
 * one-instance ports), metrics likewise from the metrics base, and NATS node `k` takes client port
 * `natsBase + k` and cluster (route) port `natsBase + nodes + k`.
 */
export interface Topology {
  /** the most instances of any service */
  instances: number
  natsNodes: number
  /** services with their own count (the others have `instances`) */
  perService?: Record<string, number>
}

export const MAX_INSTANCES = 4
export const MAX_NATS_NODES = 5

export function parseTopology(env: NodeJS.ProcessEnv): Topology {
  const natsNodes = count(env.PALISADE_NATS_CLUSTER, 'PALISADE_NATS_CLUSTER', MAX_NATS_NODES)
  const raw = env.PALISADE_INSTANCES ?? ''
  if (!raw.includes('=')) return { instances: count(raw, 'PALISADE_INSTANCES', MAX_INSTANCES), natsNodes }
  const perService: Record<string, number> = {}
  for (const part of raw.split(',')) {
    const [name, n] = part.split('=').map((x) => x.trim())
    if (!STACK_SERVICES.some((s) => s.name === name)) throw new Error(`PALISADE_INSTANCES names an unknown service: ${JSON.stringify(name)}`)
    perService[name!] = count(n, 'PALISADE_INSTANCES', MAX_INSTANCES)
  }
  return { instances: Math.max(1, ...Object.values(perService)), natsNodes, perService }
}

/** How many instances of `service` run. */
export function instancesOf(t: Topology, service: string): number {
  return t.perService ? (t.perService[service] ?? 1) : t.instances
}

function count(raw: string | undefined, name: string, max: number): number {
  if (raw === undefined || raw === '') return 1
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(raw)}`)
  return n
}

/** Ports a service block of one instance spans (the launcher's service and metrics ports). */
export const BLOCK = STACK_SERVICES.length

export function instancePort(base: number, service: StackService, instance: number): number {
  return base + service.portOffset + instance * BLOCK
}

/** How many consecutive ports after the base `instances` instances of every service need. */
export const portsNeeded = (instances: number): number => instances * BLOCK

export const natsClientPort = (base: number, node: number): number => base + node
export const natsRoutePort = (base: number, nodes: number, node: number): number => base + nodes + node

/** `<service>#<n>` (1-based), how logs and the state file name an instance. */
export const instanceName = (service: string, instance: number, instances: number): string => (instances === 1 ? service : `${service}#${instance + 1}`)

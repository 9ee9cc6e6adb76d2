import * as contracts from '@palisade/contracts'
import { APP_SERVICES, type AppServiceName, type NatsEndpoint, type NatsEvent } from '@palisade/contracts'
import { inboxPrefixFor } from '@palisade/platform'

/**
 * deploy/nats/nats.conf generated from the NATS contracts: every `NatsEndpoint` and `NatsEvent`
 * exported by `@palisade/contracts` (services add theirs in their own contracts file; they are
 * found by shape, so nothing has to be registered here).
 *
 * One NATS user per service. A service may publish only to the command subjects it is a listed
 * caller of and the events it is a listed publisher of; it may subscribe only to the endpoints it
 * owns, the events it is a listed subscriber of, and its private inbox prefix `_INBOX_<service>.>`
 * (the client sets `inboxPrefix`), so nobody can read another service's replies. Replies go back
 * through `allow_responses` (one response per request, within a minute) on the repliers only.
 */

export interface NatsPermissions {
  publish: string[]
  subscribe: string[]
  allowResponses: boolean
}

export { inboxPrefixFor }
export const passwordVariable = (service: string): string => `${service.toUpperCase()}_NATS_PASSWORD`

function isEndpoint(v: unknown): v is NatsEndpoint {
  const o = v as Record<string, unknown> | null
  return !!o && typeof o === 'object' && typeof o.subject === 'string' && typeof o.owner === 'string' && Array.isArray(o.callers)
}
function isEvent(v: unknown): v is NatsEvent {
  const o = v as Record<string, unknown> | null
  return !!o && typeof o === 'object' && typeof o.subject === 'string' && Array.isArray(o.publishers) && Array.isArray(o.subscribers)
}

/** Declarations sharing a subject are merged (e.g. several services' views of `events.user.*`). */
export function collectContracts(mod: Record<string, unknown> = contracts as Record<string, unknown>): { endpoints: NatsEndpoint[]; events: NatsEvent[] } {
  const endpoints = new Map<string, { subject: string; owner: string; callers: Set<string> }>()
  const events = new Map<string, { subject: string; publishers: Set<string>; subscribers: Set<string> }>()
  for (const key of Object.keys(mod).sort()) {
    const v = mod[key]
    if (isEndpoint(v)) {
      const e = endpoints.get(v.subject) ?? { subject: v.subject, owner: v.owner, callers: new Set<string>() }
      if (e.owner !== v.owner) throw new Error(`${v.subject} is declared with two owners (${e.owner}, ${v.owner})`)
      for (const c of v.callers) e.callers.add(c)
      endpoints.set(v.subject, e)
    } else if (isEvent(v)) {
      const e = events.get(v.subject) ?? { subject: v.subject, publishers: new Set<string>(), subscribers: new Set<string>() }
      for (const p of v.publishers) e.publishers.add(p)
      for (const s of v.subscribers) e.subscribers.add(s)
      events.set(v.subject, e)
    }
  }
  for (const s of endpoints.keys()) if (events.has(s)) throw new Error(`${s} is both an endpoint and an event`)
  const byName = <T extends { subject: string }>(a: T, b: T) => a.subject.localeCompare(b.subject)
  return {
    endpoints: [...endpoints.values()]
      .map((e) => ({ subject: e.subject, owner: e.owner, callers: [...e.callers].sort() }) as unknown as NatsEndpoint)
      .sort(byName),
    events: [...events.values()]
      .map((e) => ({ subject: e.subject, publishers: [...e.publishers].sort(), subscribers: [...e.subscribers].sort() }) as unknown as NatsEvent)
      .sort(byName)
  }
}

export function permissionsFor(service: AppServiceName, c = collectContracts()): NatsPermissions {
  const publish = new Set<string>()
  const subscribe = new Set<string>()
  let allowResponses = false
  for (const ep of c.endpoints) {
    if (ep.callers.includes(service)) publish.add(ep.subject)
    if (ep.owner === service) {
      subscribe.add(ep.subject)
      allowResponses = true
    }
  }
  for (const ev of c.events) {
    if (ev.publishers.includes(service)) publish.add(ev.subject)
    if (ev.subscribers.includes(service)) subscribe.add(ev.subject)
  }
  subscribe.add(`${inboxPrefixFor(service)}.>`)
  return { publish: [...publish].sort(), subscribe: [...subscribe].sort(), allowResponses }
}

function list(items: string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(', ')}]`
}

/** The `authorization` block: users reference their password as `$<SERVICE>_NATS_PASSWORD`. */
export function authorizationBlock(services: readonly AppServiceName[] = APP_SERVICES): string {
  const c = collectContracts()
  const lines = ['authorization {', '  users: [']
  for (const service of services) {
    const p = permissionsFor(service, c)
    lines.push(`    # ${service}`)
    lines.push(`    {`)
    lines.push(`      user: ${service}`)
    lines.push(`      password: $${passwordVariable(service)}`)
    lines.push(`      permissions: {`)
    lines.push(`        publish: { allow: ${list(p.publish)} }`)
    lines.push(`        subscribe: { allow: ${list(p.subscribe)} }`)
    if (p.allowResponses) lines.push(`        allow_responses: { max: 1, expires: "1m" }`)
    lines.push(`      }`)
    lines.push(`    }`)
  }
  lines.push('  ]', '}')
  return `${lines.join('\n')}\n`
}

export const PASSWORDS_INCLUDE = 'passwords.conf'

/** deploy/nats/nats.conf */
export function renderNatsConf(): string {
  return [
    '# GENERATED by `pnpm gen:nats` from the NATS contracts in libs/contracts (NatsEndpoint/NatsEvent).',
    '# Do not edit: scripts/test/nats-config.test.ts fails when this file differs from the generator.',
    '#',
    `# Passwords are not here: \`${PASSWORDS_INCLUDE}\` beside this file defines one variable per service`,
    `# (\`AUTH_NATS_PASSWORD: "..."\`); compose mounts it from the \`nats_passwords\` secret and the launcher`,
    '# writes it under .data/. Each service reads its own password from NATS_PASSWORD(_FILE).',
    'port: 4222',
    'max_payload: 1MB',
    'max_connections: 2048',
    'max_control_line: 4KB',
    'write_deadline: "10s"',
    'ping_interval: "30s"',
    `include ./${PASSWORDS_INCLUDE}`,
    '',
    authorizationBlock()
  ].join('\n')
}

/** Contents of the passwords include for the given per-service passwords. */
export function renderPasswords(passwords: Partial<Record<AppServiceName, string>>): string {
  return `${Object.entries(passwords)
    .map(([service, pw]) => `${passwordVariable(service)}: ${JSON.stringify(pw)}`)
    .join('\n')}\n`
}

/**
 * The committed config turned into self-contained text (passwords inline, no listen/port line) for
 * a server started on a free port, e.g. by `startNatsServer({ config })` or the launcher.
 */
export function inlineNatsConf(conf: string, passwords: Partial<Record<AppServiceName, string>>): string {
  return conf
    .split('\n')
    .filter((l) => !/^(port|listen):/.test(l))
    .map((l) => (l.startsWith('include ') ? renderPasswords(passwords) : l))
    .join('\n')
}

export interface ClusterNode {
  /** `server_name`, unique in the cluster */
  name: string
  /** the route listener of this node */
  routeHost: string
  routePort: number
  /** every node's route URL (its own included: nats-server ignores a route to itself) */
  routes: string[]
}

/**
 * One cluster node's configuration: the generated nats.conf (same accounts and permissions, read
 * beside it) plus a `cluster` block. Client port and address come from the command line.
 */
export function renderClusterNodeConf(node: ClusterNode, include = 'nats.conf'): string {
  return [
    '# A node of the local NATS cluster (the launcher with PALISADE_NATS_CLUSTER); generated, not committed.',
    `include ./${include}`,
    `server_name: ${JSON.stringify(node.name)}`,
    'cluster {',
    '  name: "palisade"',
    `  listen: ${JSON.stringify(`${node.routeHost}:${node.routePort}`)}`,
    `  routes: ${list(node.routes)}`,
    '  connect_retries: 120',
    '}',
    ''
  ].join('\n')
}

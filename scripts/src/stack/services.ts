import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AppServiceName, ServiceName } from '@palisade/contracts'
import { REPO_ROOT } from '../lib/paths.js'

/** What a service's environment may depend on when the launcher starts it. */
export interface ServiceContext {
  dataDir: string
  secretsDir: string
  edgeOrigin: string
}

export interface StackService {
  name: ServiceName
  /** fixed offset from the port base (PALISADE_SERVICE_PORT_BASE, default 3100) */
  portOffset: number
  /** settings of its own, beyond the ones every service gets */
  env?: (ctx: ServiceContext) => Record<string, string>
}

/**
 * Every service the launcher knows, in start order, with its fixed internal port. Adding a service
 * is one line here (plus its NATS user in the contracts, which `pnpm gen:nats` picks up).
 */
export const STACK_SERVICES: readonly StackService[] = [
  {
    name: 'auth',
    portOffset: 1,
    env: (c) => ({
      AUTH_SIGNING_KEYS_FILE: join(c.secretsDir, 'auth_signing_keys'),
      AUTH_MFA_KEY_FILE: join(c.secretsDir, 'auth_mfa_key'),
      // Passkeys are bound to the page's origin: the edge's, exactly.
      AUTH_WEBAUTHN_ORIGIN: c.edgeOrigin
    })
  },
  { name: 'gateway', portOffset: 2 },
  { name: 'chat', portOffset: 3 },
  {
    name: 'files',
    portOffset: 4,
    env: (c) => ({ FILES_STORAGE_DIR: join(c.dataDir, 'files'), FILES_KEYS_FILE: join(c.secretsDir, 'files_keys') })
  },
  { name: 'agents', portOffset: 5 },
  { name: 'web', portOffset: 6 }
]

/**
 * TRUSTED_PROXIES of every service the launcher starts: the edge (local or Traefik) reaches the
 * services at 127.0.0.1, so it connects from there and its X-Forwarded-For is the client's address.
 */
export const LOCAL_EDGE_TRUSTED_PROXIES = '127.0.0.1'

/**
 * V8 flags of every process that serves requests: each service, the launcher (it runs the local
 * edge) and deploy/Dockerfile's CMD (a test keeps them equal). Without allocation-site pretenuring
 * request garbage dies young (docs/performance.md). Node refuses V8 flags in NODE_OPTIONS
 * ("not allowed in NODE_OPTIONS"), so they go on the command line.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--no-allocation-site-pretenuring']

export const DEFAULT_SERVICE_PORT_BASE = 3100
export const DEFAULT_EDGE_PORT = 8080
/** the agreed metrics port (METRICS_PORT); the launcher gives the edge this one and each service base + offset */
export const DEFAULT_METRICS_PORT = 9464
export const DEFAULT_EMBEDDED_PG_PORT = 5499
export const DEFAULT_NATS_PORT = 4299

export function serviceDir(name: string): string {
  return join(REPO_ROOT, 'services', name)
}

/** A service owns data when it has migrations; only those get a database role and DATABASE_URL. */
export function ownsData(name: string): name is AppServiceName {
  return existsSync(join(serviceDir(name), 'drizzle'))
}

export const DATA_SERVICES: readonly AppServiceName[] = STACK_SERVICES.map((s) => s.name).filter(ownsData)

/**
 * A service is started when it has a `src/server.ts` and its `src/app.ts` default-exports the app
 * (services still being written have an empty `app.ts`).
 */
export function isRunnable(name: string): boolean {
  const dir = serviceDir(name)
  const server = join(dir, 'src', 'server.ts')
  const app = join(dir, 'src', 'app.ts')
  if (!existsSync(server) || !existsSync(app)) return false
  return /^export default\b/m.test(readFileSync(app, 'utf8'))
}

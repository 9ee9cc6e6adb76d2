import type { ServiceName } from './services.js'
import type { TokenScope } from './tokens.js'

export type RouteAccess = 'public' | 'forward-auth'

/**
 * One entry of the edge's route table: the single source of truth for what the outside world can
 * reach. `deploy/traefik/` is generated from it, the local edge routes with it and auth's /verify
 * derives the assertion audience from it.
 */
export interface Route {
  /** router name (kebab-case, unique) */
  readonly id: string
  /** `exact`: only this path; `prefix`: this path and anything below `path + '/'` */
  readonly match: 'exact' | 'prefix'
  readonly path: string
  readonly service: ServiceName
  readonly access: RouteAccess
  readonly websocket: boolean
  /** request body limit enforced at the edge, in bytes */
  readonly bodyLimit: number
  /**
   * Scopes a personal access token needs here: `safe` for GET/HEAD/OPTIONS (a WebSocket handshake
   * is a GET), `unsafe` for every other method. Absent (or a side absent): tokens are refused —
   * session management, passwords, factors and token management stay with browser sessions.
   */
  readonly tokenScopes?: { readonly safe?: readonly TokenScope[]; readonly unsafe?: readonly TokenScope[] }
  /**
   * The path carries a secret (a share-link token): no access log on the way may record it —
   * Traefik's router logs nothing, the local edge and the services write redactTokenPaths().
   */
  readonly secretPath?: boolean
}

/** The scopes a personal access token needs for `method` on `route`; undefined when tokens may not use it. */
export function tokenScopesFor(route: Route, method: string): readonly TokenScope[] | undefined {
  const safe = method === 'GET' || method === 'HEAD' || method === 'OPTIONS'
  return safe ? route.tokenScopes?.safe : route.tokenScopes?.unsafe
}

const READ: Route['tokenScopes'] = { safe: ['read'] }
/** the user directory's email lookup is a POST only to keep addresses out of URLs: still a read */
const READ_ANY: Route['tokenScopes'] = { safe: ['read'], unsafe: ['read'] }

const KiB = 1024
const MiB = 1024 * KiB

export const DEFAULT_BODY_LIMIT = 64 * KiB
/** FILES_MAX_BYTES's default: the largest file the files service accepts */
export const DEFAULT_FILES_MAX_BYTES = 25 * MiB
/** multipart framing and the text fields around the file: what an upload carries beyond the file */
export const FILE_UPLOAD_OVERHEAD_BYTES = 64 * KiB
/**
 * The one place the edge's upload body limit comes from: the files service's FILES_MAX_BYTES plus
 * the multipart overhead. The launcher and `pnpm gen:traefik` pass the configured FILES_MAX_BYTES
 * (routesFor), so the edge and the service can never disagree about how large an upload may be.
 */
export function fileUploadBodyLimit(filesMaxBytes: number): number {
  return filesMaxBytes + FILE_UPLOAD_OVERHEAD_BYTES
}
export const FILE_UPLOAD_BODY_LIMIT = fileUploadBodyLimit(DEFAULT_FILES_MAX_BYTES)
/**
 * The longest a client may take to send one whole request, on every hop (Traefik's readTimeout,
 * the local edge, the files service): a 25 MiB upload then still completes at ~350 kbit/s. Slow
 * headers stay bounded separately (30 s), and nothing unauthenticated gets past the edge's
 * ForwardAuth to a large-body route.
 */
export const MAX_REQUEST_SECONDS = 600
/**
 * What one client address (an IPv6 /64) may hold open at the edge at once: connections at the local
 * edge, in-flight requests per router in Traefik (`inFlightReq`). Far above what a browser opens
 * (six per origin plus a WebSocket per tab), far below what would let one address hold a service.
 */
export const MAX_CONNECTIONS_PER_CLIENT = 128

export const ROUTES: readonly Route[] = [
  { id: 'web-login', match: 'exact', path: '/login', service: 'web', access: 'public', websocket: false, bodyLimit: 0 },
  { id: 'web-assets', match: 'prefix', path: '/assets', service: 'web', access: 'public', websocket: false, bodyLimit: 0 },
  { id: 'web-app', match: 'exact', path: '/', service: 'web', access: 'forward-auth', websocket: false, bodyLimit: 0 },
  { id: 'auth-register', match: 'exact', path: '/auth/register', service: 'auth', access: 'public', websocket: false, bodyLimit: 16 * KiB },
  { id: 'auth-login', match: 'exact', path: '/auth/login', service: 'auth', access: 'public', websocket: false, bodyLimit: 16 * KiB },
  { id: 'auth-refresh', match: 'exact', path: '/auth/refresh', service: 'auth', access: 'public', websocket: false, bodyLimit: 1 * KiB },
  { id: 'auth-logout', match: 'exact', path: '/auth/logout', service: 'auth', access: 'public', websocket: false, bodyLimit: 1 * KiB },
  { id: 'auth-logout-all', match: 'exact', path: '/auth/logout-all', service: 'auth', access: 'forward-auth', websocket: false, bodyLimit: 1 * KiB },
  { id: 'auth-me', match: 'exact', path: '/auth/me', service: 'auth', access: 'forward-auth', websocket: false, bodyLimit: 1 * KiB, tokenScopes: READ },
  { id: 'auth-sessions', match: 'prefix', path: '/auth/sessions', service: 'auth', access: 'forward-auth', websocket: false, bodyLimit: 1 * KiB },
  {
    id: 'auth-users',
    match: 'prefix',
    path: '/auth/users',
    service: 'auth',
    access: 'forward-auth',
    websocket: false,
    bodyLimit: 1 * KiB,
    tokenScopes: READ_ANY
  },
  // Second-factor steps of a login: public, the attempt is carried by the short-lived ticket cookie.
  { id: 'auth-login-mfa', match: 'prefix', path: '/auth/login/mfa', service: 'auth', access: 'public', websocket: false, bodyLimit: 16 * KiB },
  { id: 'auth-login-enrol', match: 'prefix', path: '/auth/login/enrol', service: 'auth', access: 'public', websocket: false, bodyLimit: 16 * KiB },
  { id: 'auth-login-passkey', match: 'prefix', path: '/auth/login/passkey', service: 'auth', access: 'public', websocket: false, bodyLimit: 16 * KiB },
  { id: 'auth-reauth', match: 'prefix', path: '/auth/reauth', service: 'auth', access: 'forward-auth', websocket: false, bodyLimit: 16 * KiB },
  { id: 'auth-mfa', match: 'prefix', path: '/auth/mfa', service: 'auth', access: 'forward-auth', websocket: false, bodyLimit: 16 * KiB },
  { id: 'auth-password', match: 'exact', path: '/auth/password', service: 'auth', access: 'forward-auth', websocket: false, bodyLimit: 16 * KiB },
  { id: 'auth-password-reset', match: 'exact', path: '/auth/password-reset', service: 'auth', access: 'public', websocket: false, bodyLimit: 16 * KiB },
  // Administration: a token needs the admin scope (and its user the admin role, checked by auth).
  {
    id: 'auth-admin',
    match: 'prefix',
    path: '/auth/admin',
    service: 'auth',
    access: 'forward-auth',
    websocket: false,
    bodyLimit: 16 * KiB,
    tokenScopes: { safe: ['admin'], unsafe: ['admin'] }
  },
  // Token management: browser sessions only (a token never mints or lists tokens).
  // OIDC sign-in: public (the flow is carried by a short-lived cookie); linking: browser sessions only.
  { id: 'auth-oidc', match: 'prefix', path: '/auth/oidc', service: 'auth', access: 'public', websocket: false, bodyLimit: 16 * KiB },
  { id: 'auth-identities', match: 'prefix', path: '/auth/identities', service: 'auth', access: 'forward-auth', websocket: false, bodyLimit: 1 * KiB },
  { id: 'auth-tokens', match: 'prefix', path: '/auth/tokens', service: 'auth', access: 'forward-auth', websocket: false, bodyLimit: 1 * KiB },
  {
    id: 'chat-api',
    match: 'prefix',
    path: '/api/chat',
    service: 'chat',
    access: 'forward-auth',
    websocket: false,
    bodyLimit: DEFAULT_BODY_LIMIT,
    tokenScopes: { safe: ['read'], unsafe: ['write'] }
  },
  {
    id: 'files-api',
    match: 'prefix',
    path: '/api/files',
    service: 'files',
    access: 'forward-auth',
    websocket: false,
    bodyLimit: FILE_UPLOAD_BODY_LIMIT,
    tokenScopes: { safe: ['files'], unsafe: ['files'] }
  },
  // Share links (libs/contracts/src/shares.ts): with an account, and without one (SHARE_LINKS=public).
  {
    id: 'files-shared',
    match: 'prefix',
    path: '/api/files/shared',
    service: 'files',
    access: 'forward-auth',
    websocket: false,
    bodyLimit: 0,
    secretPath: true,
    tokenScopes: { safe: ['files'] }
  },
  { id: 'share-public', match: 'prefix', path: '/s', service: 'files', access: 'public', websocket: false, bodyLimit: 0, secretPath: true },
  {
    id: 'agents-api',
    match: 'prefix',
    path: '/api/agents',
    service: 'agents',
    access: 'forward-auth',
    websocket: false,
    bodyLimit: DEFAULT_BODY_LIMIT,
    tokenScopes: { safe: ['agents'], unsafe: ['agents'] }
  },
  // The socket both reads and sends messages (`message.send`), so it takes both scopes.
  {
    id: 'gateway-ws',
    match: 'exact',
    path: '/ws',
    service: 'gateway',
    access: 'forward-auth',
    websocket: true,
    bodyLimit: 0,
    tokenScopes: { safe: ['read', 'write'] }
  }
]

/** Paths that must never be reachable from outside, whatever the route table says. */
export const NEVER_ROUTABLE_PATHS: readonly string[] = ['/auth/verify', '/auth/jwks', '/.well-known/jwks.json', '/healthz', '/readyz', '/internal', '/metrics']

/** True for a normalized path the edge must refuse whatever the route table says: a listed path or anything under it. */
export function isNeverRoutable(path: string): boolean {
  return NEVER_ROUTABLE_PATHS.some((p) => path === p || path.startsWith(`${p}/`))
}

export function routeMatches(route: Route, pathname: string): boolean {
  if (pathname === route.path) return true
  return route.match === 'prefix' && pathname.startsWith(`${route.path}/`)
}

/**
 * The route for a request path, or undefined. `pathname` must already be normalised (see
 * `normalizeRequestPath`); the most specific (longest) path wins, as Traefik's default priority does.
 */
export function resolveRoute(pathname: string, routes: readonly Route[] = ROUTES): Route | undefined {
  let best: Route | undefined
  for (const route of routes) {
    if (routeMatches(route, pathname) && (!best || route.path.length > best.path.length)) best = route
  }
  return best
}

/**
 * Validates a raw request target's path and returns it, or undefined when it is one of the tricks
 * used to reach a different route than the one checked: dot segments (plain or percent-encoded),
 * encoded slashes or backslashes, backslashes, NUL and other control bytes, doubled slashes.
 */
export function normalizeRequestPath(rawUrl: string): string | undefined {
  if (rawUrl.length > 8192 || !rawUrl.startsWith('/')) return undefined
  const q = rawUrl.search(/[?#]/)
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q)
  if (/%(2f|5c|2e|00)/i.test(path)) return undefined
  if (/[\\\x00-\x1f\x7f]/.test(path) || path.includes('//')) return undefined
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    return undefined
  }
  if (decoded.split('/').some((segment) => segment === '.' || segment === '..')) return undefined
  return path
}

/** Settings of the deployment that shape the route table (what the edge enforces). */
export interface RouteSettings {
  /** the files service's FILES_MAX_BYTES */
  filesMaxBytes?: number
}

/** ROUTES with the limits that follow from the deployment's settings (FILES_MAX_BYTES → the upload route). */
export function routesFor(settings: RouteSettings = {}): readonly Route[] {
  const filesMax = settings.filesMaxBytes ?? DEFAULT_FILES_MAX_BYTES
  return ROUTES.map((r) => (r.id === 'files-api' ? { ...r, bodyLimit: fileUploadBodyLimit(filesMax) } : r))
}

/** FILES_MAX_BYTES from an environment (launcher, gen:traefik), as the files service reads it; undefined when unset. */
export function filesMaxBytesFrom(env: Record<string, string | undefined>): number | undefined {
  const raw = env.FILES_MAX_BYTES?.trim()
  if (!raw) return undefined
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error('FILES_MAX_BYTES must be a positive integer')
  return n
}

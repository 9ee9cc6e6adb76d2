import { stringify } from 'yaml'
import {
  FORWARDED_HEADERS,
  IDENTITY_HEADER_NAMES,
  MAX_CONNECTIONS_PER_CLIENT,
  MAX_REQUEST_SECONDS,
  NEVER_ROUTABLE_PATHS,
  REQUEST_ID_HEADER,
  ROUTES,
  SERVICE_NAMES,
  type Route,
  type ServiceName
} from '@palisade/contracts'
import { headerSpellings } from '../lib/header-spellings.js'

/**
 * Traefik v3 configuration generated from the route table (`libs/contracts/src/route-table.ts`).
 *
 * `production` is what `deploy/traefik/` holds (TLS on :443, :80 redirects, services on the compose
 * `internal` network); `local` is what the launcher feeds a `traefik` binary found on PATH (plain
 * HTTP on one loopback port, services on 127.0.0.1 ports). Both share the same routers and
 * middlewares, so the conformance suite exercises the production semantics either way.
 */

export const MW = {
  securityHeaders: 'security-headers',
  webCsp: 'web-csp',
  scrub: 'scrub-client-identity',
  inFlight: 'in-flight-per-client',
  connection: 'drop-client-connection-header',
  wsConnection: 'websocket-connection-header',
  rateLimit: 'rate-limit',
  forwardAuth: 'forward-auth',
  bodyLimit: (bytes: number) => `body-limit-${bytes}`
} as const

export interface TraefikTarget {
  mode: 'production' | 'local'
  /**
   * base URL of each service (no trailing slash), or one per instance: Traefik balances them. The
   * deployed files name one (the compose/Kubernetes service name, which spreads over its replicas);
   * the launcher in instances mode lists each local instance.
   */
  serviceUrl(service: ServiceName): string | readonly string[]
  /** full URL of auth's verify endpoint */
  authVerifyUrl: string
  /** local mode: where the single plain-HTTP entrypoint listens */
  listen?: string
  /** local mode: where Traefik answers /ping */
  pingListen?: string
  /** file provider path (the dynamic config) */
  dynamicFile: string
  /**
   * production mode: unprivileged entrypoint ports (Kubernetes, where the Service maps 80/443 onto
   * them); the :80 redirect then names the public port instead of the entrypoint
   */
  ports?: { web: number; websecure: number; ping: number }
}

export const INTERNAL_PORT = 3000

export const PRODUCTION_TARGET: TraefikTarget = {
  mode: 'production',
  serviceUrl: (service) => `http://${service}:${INTERNAL_PORT}`,
  authVerifyUrl: `http://auth:${INTERNAL_PORT}/auth/verify`,
  dynamicFile: '/etc/traefik/dynamic.yml'
}

/** Traefik as the Kubernetes edge: the same services by their Service names, unprivileged ports. */
export const KUBERNETES_TARGET: TraefikTarget = { ...PRODUCTION_TARGET, ports: { web: 8000, websecure: 8443, ping: 8082 } }

/** Identity headers auth sets on a 2xx, copied by ForwardAuth onto the upstream request. */
export const AUTH_RESPONSE_HEADERS = [...IDENTITY_HEADER_NAMES, REQUEST_ID_HEADER].map(displayName)

function displayName(h: string): string {
  return h.replace(/(^|-)([a-z])/g, (_m, sep: string, ch: string) => sep + ch.toUpperCase())
}

/**
 * Client-sent headers the scrub middleware deletes, as Traefik `customRequestHeaders` with an empty
 * value (Traefik calls Go's `Header.Del`, which canonicalises case, so `x_authenticated_user`
 * and `X_AUTHENTICATED_USER` both match the `X_Authenticated_User` entry).
 *
 * - identity headers: every separator spelling, including the dash form (ForwardAuth overwrites
 *   the dash form only when auth answers with it; deleting first means a client copy can never
 *   survive, also on public routes where ForwardAuth does not run);
 * - forwarding headers: only the underscore/dot spellings and `Forwarded`. The dash forms of
 *   X-Forwarded-* and X-Real-Ip are rebuilt by Traefik itself at the entrypoint (client copies from
 *   untrusted addresses are discarded there), so deleting them here would delete Traefik's values.
 */
export function scrubbedRequestHeaders(): string[] {
  const names: string[] = []
  for (const h of IDENTITY_HEADER_NAMES) names.push(...headerSpellings(h))
  for (const h of FORWARDED_HEADERS) {
    if (h === 'forwarded') names.push('Forwarded')
    else names.push(...headerSpellings(h).slice(1))
  }
  return names
}

/** Traefik rule for a route: exact `Path`, or the path itself plus everything below `path/`. */
export function ruleFor(route: Route): string {
  const base = route.match === 'exact' ? `Path(\`${route.path}\`)` : `Path(\`${route.path}\`) || PathPrefix(\`${route.path}/\`)`
  // Routes without a body limit carry no request bodies: only GET/HEAD reach them.
  const path = route.match === 'exact' ? base : `(${base})`
  return route.bodyLimit === 0 ? `${path} && (Method(\`GET\`) || Method(\`HEAD\`))` : base
}

/** Explicit priority so that the most specific (longest) path wins, as `resolveRoute` decides. */
export function priorityFor(route: Route): number {
  return 1000 + route.path.length * 2 + (route.match === 'exact' ? 1 : 0)
}

export function middlewaresFor(route: Route): string[] {
  const mws: string[] = [MW.securityHeaders]
  if (route.service === 'web') mws.push(MW.webCsp)
  // In flight from the start: a request still sending its body (being buffered) counts.
  mws.push(MW.inFlight, MW.scrub, route.websocket ? MW.wsConnection : MW.connection, MW.rateLimit)
  // ForwardAuth before buffering: an unauthenticated client cannot make Traefik buffer a body.
  if (route.access === 'forward-auth') mws.push(MW.forwardAuth)
  if (route.bodyLimit > 0) mws.push(MW.bodyLimit(route.bodyLimit))
  return mws
}

export function buildDynamicConfig(target: TraefikTarget, routes: readonly Route[] = ROUTES): Record<string, unknown> {
  for (const route of routes) {
    for (const never of NEVER_ROUTABLE_PATHS) {
      if (route.path === never || route.path.startsWith(`${never}/`) || (route.match === 'prefix' && never.startsWith(`${route.path}/`))) {
        throw new Error(`route ${route.id} (${route.path}) would expose never-routable ${never}`)
      }
    }
  }
  const tls = target.mode === 'production'
  const entryPoints = [tls ? 'websecure' : 'web']
  const routers: Record<string, unknown> = {}
  for (const route of routes) {
    routers[route.id] = {
      entryPoints,
      rule: ruleFor(route),
      priority: priorityFor(route),
      service: route.service,
      middlewares: middlewaresFor(route),
      // A token in the path: this router writes no access log line and no span (url.path) at all (Traefik ≥ 3.1).
      ...(route.secretPath ? { observability: { accessLogs: false, tracing: false } } : {}),
      ...(tls ? { tls: {} } : {})
    }
  }
  const usedServices = SERVICE_NAMES.filter((s) => routes.some((r) => r.service === s))
  const services: Record<string, unknown> = {}
  for (const service of usedServices) {
    services[service] = {
      loadBalancer: {
        servers: [target.serviceUrl(service)].flat().map((url) => ({ url })),
        passHostHeader: true,
        serversTransport: 'internal',
        healthCheck: { path: '/healthz', interval: '10s', timeout: '3s' }
      }
    }
  }
  const limits = [...new Set(routes.map((r) => r.bodyLimit).filter((b) => b > 0))].sort((a, b) => a - b)
  const middlewares: Record<string, unknown> = {
    [MW.securityHeaders]: {
      headers: {
        stsSeconds: 31_536_000,
        stsIncludeSubdomains: true,
        // also on plain-HTTP answers (the :80 redirect, the local launcher); browsers ignore it there
        forceSTSHeader: true,
        contentTypeNosniff: true,
        frameDeny: true,
        referrerPolicy: 'no-referrer',
        customResponseHeaders: { Server: '', 'X-Powered-By': '' }
      }
    },
    [MW.webCsp]: {
      headers: {
        contentSecurityPolicy:
          "default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
      }
    },
    [MW.scrub]: {
      headers: { customRequestHeaders: Object.fromEntries(scrubbedRequestHeaders().map((h) => [h, ''])) }
    },
    // Per router (Traefik keeps one counter per router a middleware is used on), per client
    // address: Traefik is the outermost hop, so the peer (depth 0), an IPv6 client by its /64.
    [MW.inFlight]: {
      inFlightReq: { amount: MAX_CONNECTIONS_PER_CLIENT, sourceCriterion: { ipStrategy: { depth: 0, ipv6Subnet: 64 } } }
    },
    // ForwardAuth deletes whatever the client's Connection header names from the auth request
    // (`Connection: close, Origin` would hide Origin) and so does the proxy on the way to the
    // service (the identity auth set): the client's Connection header goes before either runs.
    // Go decided keep-alive when it read the request, so deleting the header changes nothing else.
    [MW.connection]: {
      headers: { customRequestHeaders: { Connection: '' } }
    },
    // The WebSocket route needs `Connection: Upgrade` for the proxy to relay a handshake; a plain
    // GET there carries no Upgrade header and stays a plain request.
    [MW.wsConnection]: {
      headers: { customRequestHeaders: { Connection: 'Upgrade' } }
    },
    [MW.rateLimit]: {
      rateLimit: { average: 100, period: '1s', burst: 200, sourceCriterion: { ipStrategy: { depth: 0, ipv6Subnet: 64 } } }
    },
    [MW.forwardAuth]: {
      forwardAuth: {
        address: target.authVerifyUrl,
        trustForwardHeader: false,
        authResponseHeaders: AUTH_RESPONSE_HEADERS
      }
    }
  }
  for (const bytes of limits) {
    middlewares[MW.bodyLimit(bytes)] = {
      buffering: { maxRequestBodyBytes: bytes, memRequestBodyBytes: Math.min(bytes, 1024 * 1024) }
    }
  }
  const config: Record<string, unknown> = {
    http: {
      routers,
      services,
      middlewares,
      serversTransports: {
        internal: { forwardingTimeouts: { dialTimeout: '5s', responseHeaderTimeout: '60s', idleConnTimeout: '90s' } }
      }
    }
  }
  if (tls) {
    config.tls = {
      options: { default: { minVersion: 'VersionTLS12', sniStrict: false } },
      stores: { default: { defaultCertificate: { certFile: '/run/secrets/tls_cert', keyFile: '/run/secrets/tls_key' } } }
    }
  }
  return config
}

export interface StaticOptions {
  /**
   * OTLP/HTTP collector base URL (`http://otel-collector:4318`), the value services take as
   * OTEL_EXPORTER_OTLP_ENDPOINT; unset: Traefik makes no spans (it still passes `traceparent` on)
   */
  otlpEndpoint?: string | undefined
}

/**
 * Traefik's OpenTelemetry tracing: a span per request continuing the client's `traceparent` (W3C
 * trace context, Traefik's default propagator) and passing it to ForwardAuth and the service.
 * No request or response header is recorded (none is configured) and query parameters are
 * redacted (Traefik's default), so cookies and tokens never reach the collector.
 */
export function tracingConfig(otlpEndpoint: string): Record<string, unknown> {
  let url: URL | undefined
  try {
    url = new URL(otlpEndpoint)
  } catch {}
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || url.password) {
    throw new Error(
      `OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL of an OTLP/HTTP collector without query or credentials: ${JSON.stringify(otlpEndpoint)}`
    )
  }
  return {
    serviceName: 'palisade-edge',
    otlp: { http: { endpoint: `${otlpEndpoint.replace(/\/+$/, '')}/v1/traces` } }
  }
}

export function buildStaticConfig(target: TraefikTarget, opts: StaticOptions = {}): Record<string, unknown> {
  const production = target.mode === 'production'
  const entryPoints: Record<string, unknown> = production
    ? {
        web: {
          address: `:${target.ports?.web ?? 80}`,
          http: {
            redirections: { entryPoint: { to: target.ports ? ':443' : 'websecure', scheme: 'https', permanent: true } },
            underscoreHeadersStrategy: 'delete'
          },
          // Only redirects: nothing here needs more than a request head.
          transport: { respondingTimeouts: { readTimeout: '10s', idleTimeout: '30s' } }
        },
        websecure: {
          address: `:${target.ports?.websecure ?? 443}`,
          // Traefik ≥ 3.6.20/3.7.6: drop every request header with `_` in its name before routing
          // (Go folds case but not `_`, so X_Authenticated_User is a separate key from the dash form).
          http: { tls: {}, underscoreHeadersStrategy: 'delete' },
          // No trusted IPs: X-Forwarded-* sent by clients are discarded and rebuilt.
          forwardedHeaders: { insecure: false },
          transport: { respondingTimeouts: { readTimeout: `${MAX_REQUEST_SECONDS}s`, idleTimeout: '180s' } }
        },
        ping: { address: `:${target.ports?.ping ?? 8082}` }
      }
    : {
        web: {
          address: target.listen ?? '127.0.0.1:8080',
          http: { underscoreHeadersStrategy: 'delete' },
          forwardedHeaders: { insecure: false },
          transport: { respondingTimeouts: { readTimeout: `${MAX_REQUEST_SECONDS}s`, idleTimeout: '180s' } }
        },
        ping: { address: target.pingListen ?? '127.0.0.1:8082' }
      }
  return {
    global: { checkNewVersion: false, sendAnonymousUsage: false },
    log: { level: 'INFO', format: 'json' },
    accessLog: {
      format: 'json',
      // Never log Cookie/Authorization: request headers are dropped from the access log.
      fields: { defaultMode: 'keep', headers: { defaultMode: 'drop', names: { 'User-Agent': 'keep', 'X-Request-Id': 'keep' } } }
    },
    entryPoints,
    ping: { entryPoint: 'ping' },
    // The file provider only: no Docker provider, so no Docker socket is ever mounted.
    providers: { file: { filename: target.dynamicFile, watch: false } },
    ...(opts.otlpEndpoint ? { tracing: tracingConfig(opts.otlpEndpoint) } : {})
  }
}

const HEADER = (what: string) =>
  `# GENERATED by \`pnpm gen:traefik\` from libs/contracts/src/route-table.ts (${what}).\n` +
  '# Do not edit: change the route table or scripts/src/traefik/config.ts and regenerate;\n' +
  '# scripts/test/traefik.test.ts fails when this file differs from the generator output.\n'

export function renderYaml(what: string, config: Record<string, unknown>): string {
  return HEADER(what) + stringify(config, { lineWidth: 0, indent: 2, aliasDuplicateObjects: false })
}

export function renderProduction(routes: readonly Route[] = ROUTES, opts: StaticOptions = {}): { 'traefik.yml': string; 'dynamic.yml': string } {
  return {
    'traefik.yml': renderYaml('static configuration', buildStaticConfig(PRODUCTION_TARGET, opts)),
    'dynamic.yml': renderYaml('dynamic configuration', buildDynamicConfig(PRODUCTION_TARGET, routes))
  }
}

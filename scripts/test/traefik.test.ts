import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import {
  IDENTITY_HEADER_NAMES,
  MAX_CONNECTIONS_PER_CLIENT,
  MAX_REQUEST_SECONDS,
  NEVER_ROUTABLE_PATHS,
  ROUTES,
  canonicalHeaderName,
  type Route
} from '@palisade/contracts'
import { DEPLOY_DIR, REPO_ROOT } from '../src/lib/paths.js'
import { buildDynamicConfig, buildStaticConfig, MW, PRODUCTION_TARGET, renderProduction, renderYaml, tracingConfig } from '../src/traefik/config.js'
import { ruleMatches } from '../src/traefik/rules.js'

interface Router {
  rule: string
  service: string
  middlewares: string[]
  entryPoints: string[]
  priority: number
  tls?: object
}

const committed = {
  static: readFileSync(join(DEPLOY_DIR, 'traefik', 'traefik.yml'), 'utf8'),
  dynamic: readFileSync(join(DEPLOY_DIR, 'traefik', 'dynamic.yml'), 'utf8')
}
const dyn = parse(committed.dynamic) as { http: { routers: Record<string, Router>; middlewares: Record<string, any>; services: Record<string, any> }; tls: any }
const stat = parse(committed.static) as Record<string, any>
const services_image = (): string =>
  (parse(readFileSync(join(DEPLOY_DIR, 'compose.yml'), 'utf8'), { merge: true }) as { services: { traefik: { image: string } } }).services.traefik.image

t.test('committed deploy/traefik files are exactly the generator output', async (t) => {
  const generated = renderProduction()
  t.equal(committed.static, generated['traefik.yml'], 'deploy/traefik/traefik.yml is stale: run pnpm gen:traefik')
  t.equal(committed.dynamic, generated['dynamic.yml'], 'deploy/traefik/dynamic.yml is stale: run pnpm gen:traefik')
})

t.test('the rule evaluator understands exactly the generated syntax', async (t) => {
  t.ok(ruleMatches('Path(`/a`) || PathPrefix(`/a/`)', { path: '/a/b', method: 'GET' }))
  t.notOk(ruleMatches('Path(`/a`) || PathPrefix(`/a/`)', { path: '/ab', method: 'GET' }))
  t.notOk(ruleMatches('(Path(`/a`)) && (Method(`GET`) || Method(`HEAD`))', { path: '/a', method: 'POST' }))
  t.ok(ruleMatches('(Path(`/a`)) && (Method(`GET`) || Method(`HEAD`))', { path: '/a', method: 'HEAD' }))
  t.throws(() => ruleMatches('Host(`x`)', { path: '/', method: 'GET' }))
})

function winner(path: string, method: string): [string, Router] | undefined {
  let best: [string, Router] | undefined
  for (const [id, r] of Object.entries(dyn.http.routers)) {
    if (ruleMatches(r.rule, { path, method }) && (!best || r.priority > best[1].priority)) best = [id, r]
  }
  return best
}

t.test('every route is served by its own router, on the TLS entrypoint, to its service', async (t) => {
  t.equal(Object.keys(dyn.http.routers).length, ROUTES.length)
  for (const route of ROUTES) {
    const method = route.bodyLimit === 0 ? 'GET' : 'POST'
    const samples = route.match === 'prefix' ? [route.path, `${route.path}/x`, `${route.path}/x/y`] : [route.path]
    for (const p of samples) {
      const w = winner(p, method)
      t.equal(w?.[0], route.id, `${method} ${p} → ${route.id}`)
    }
    if (route.match === 'exact') t.not(winner(`${route.path}/x`, method)?.[0], route.id, `${route.path}/x is not ${route.id}`)
    t.not(winner(`${route.path}x`, method)?.[0], route.id, `${route.path}x is not ${route.id}`)
    const r = dyn.http.routers[route.id]!
    t.same(r.entryPoints, ['websecure'])
    t.same(r.tls, {})
    t.equal(r.service, route.service)
    t.equal(dyn.http.services[route.service].loadBalancer.servers[0].url, `http://${route.service}:3000`)
  }
})

t.test('forward-authed routes carry the ForwardAuth middleware, public ones do not', async (t) => {
  const fa = dyn.http.middlewares[MW.forwardAuth].forwardAuth
  t.equal(fa.address, 'http://auth:3000/auth/verify')
  t.equal(fa.trustForwardHeader, false)
  t.same(fa.authResponseHeaders.map((h: string) => h.toLowerCase()).sort(), [...IDENTITY_HEADER_NAMES, 'x-request-id'].sort())
  for (const route of ROUTES) {
    const mws = dyn.http.routers[route.id]!.middlewares
    if (route.access === 'forward-auth') {
      t.ok(mws.includes(MW.forwardAuth), `${route.id} is forward-authed`)
      t.ok(mws.indexOf(MW.scrub) < mws.indexOf(MW.forwardAuth), `${route.id}: scrub runs before ForwardAuth sets identity`)
      const limit = mws.findIndex((m) => m.startsWith('body-limit-'))
      if (limit !== -1) t.ok(limit > mws.indexOf(MW.forwardAuth), `${route.id}: bodies are buffered only after auth`)
    } else {
      t.notOk(mws.includes(MW.forwardAuth), `${route.id} is public`)
    }
    t.ok(mws.includes(MW.scrub), `${route.id} drops client identity headers`)
    t.equal(mws[0], MW.securityHeaders, `${route.id} sets security headers, also on auth denials`)
    t.ok(mws.includes(MW.rateLimit), `${route.id} is rate limited`)
    if (route.bodyLimit > 0) {
      t.ok(mws.includes(MW.bodyLimit(route.bodyLimit)), `${route.id} limits bodies to ${route.bodyLimit}`)
      t.equal(dyn.http.middlewares[MW.bodyLimit(route.bodyLimit)].buffering.maxRequestBodyBytes, route.bodyLimit)
    } else {
      t.notOk(ruleMatches(dyn.http.routers[route.id]!.rule, { path: route.path, method: 'POST' }), `${route.id} takes no bodies`)
    }
  }
})

t.test('slow clients: connections per client address capped, bodies buffered, Connection headers dropped', async (t) => {
  const inFlight = dyn.http.middlewares[MW.inFlight].inFlightReq
  t.equal(inFlight.amount, MAX_CONNECTIONS_PER_CLIENT)
  t.same(inFlight.sourceCriterion, { ipStrategy: { depth: 0, ipv6Subnet: 64 } }, 'keyed on the TCP peer (Traefik is the outermost hop), IPv6 by /64')
  t.same(dyn.http.middlewares[MW.rateLimit].rateLimit.sourceCriterion, { ipStrategy: { depth: 0, ipv6Subnet: 64 } })
  t.same(dyn.http.middlewares[MW.connection].headers.customRequestHeaders, { Connection: '' })
  t.same(dyn.http.middlewares[MW.wsConnection].headers.customRequestHeaders, { Connection: 'Upgrade' })
  for (const route of ROUTES) {
    const mws = dyn.http.routers[route.id]!.middlewares
    t.ok(mws.indexOf(MW.inFlight) !== -1 && mws.indexOf(MW.inFlight) <= 2, `${route.id}: in-flight limit before anything slow`)
    const conn = route.websocket ? MW.wsConnection : MW.connection
    t.ok(mws.includes(conn), `${route.id}: the client's Connection header is replaced`)
    if (route.access === 'forward-auth') t.ok(mws.indexOf(conn) < mws.indexOf(MW.forwardAuth), `${route.id}: before ForwardAuth copies headers to auth`)
    const limit = mws.findIndex((m) => m.startsWith('body-limit-'))
    if (limit !== -1) t.ok(mws.indexOf(MW.inFlight) < limit, `${route.id}: a body being buffered counts as in flight`)
  }
  t.same(stat.entryPoints.web.transport.respondingTimeouts, { readTimeout: '10s', idleTimeout: '30s' }, 'the redirect-only entrypoint reads request heads only')
})

t.test('no router matches a never-routable path', async (t) => {
  for (const never of NEVER_ROUTABLE_PATHS) {
    for (const p of [never, `${never}/`, `${never}/x`]) {
      for (const method of ['GET', 'POST']) t.equal(winner(p, method), undefined, `${method} ${p} is not routed`)
    }
  }
  const leaky: Route = { id: 'leak', match: 'prefix', path: '/auth', service: 'auth', access: 'public', websocket: false, bodyLimit: 1 }
  t.throws(() => buildDynamicConfig(PRODUCTION_TARGET, [...ROUTES, leaky]), /never-routable/, 'the generator refuses a route table that exposes one')
})

t.test('the scrub middleware deletes every spelling of the identity headers', async (t) => {
  const h = dyn.http.middlewares[MW.scrub].headers.customRequestHeaders as Record<string, string>
  for (const v of Object.values(h)) t.equal(v, '', 'empty value = delete')
  for (const name of IDENTITY_HEADER_NAMES) {
    const spellings = Object.keys(h).filter((k) => canonicalHeaderName(k) === name)
    t.equal(spellings.length, 9, `${name}: all 9 separator spellings`)
    t.ok(
      spellings.includes(
        name
          .split('-')
          .map((p) => p[0]!.toUpperCase() + p.slice(1))
          .join('_')
      ),
      `${name}: underscore form`
    )
  }
  t.ok(h.X_Forwarded_For === '' && h['X.Forwarded.For'] === '' && h.Forwarded === '')
  t.notOk('X-Forwarded-For' in h, 'the dash X-Forwarded-* stay: Traefik rebuilds them itself')
})

t.test('static config: redirect to TLS, file provider only, ping internal, access log', async (t) => {
  t.same(stat.entryPoints.web.http.redirections.entryPoint, { to: 'websecure', scheme: 'https', permanent: true })
  t.equal(stat.entryPoints.web.address, ':80')
  t.equal(stat.entryPoints.websecure.address, ':443')
  t.same(stat.entryPoints.websecure.http.tls, {})
  t.equal(stat.entryPoints.websecure.http.underscoreHeadersStrategy, 'delete', 'underscore header names dropped at the entrypoint')
  t.match(services_image(), /^traefik:v?3\.(7\.([6-9]|\d{2,})|([89]|\d{2,})\.)/, 'the pinned Traefik knows underscoreHeadersStrategy (≥ 3.7.6)')
  t.equal(stat.entryPoints.websecure.forwardedHeaders.insecure, false)
  t.equal(
    stat.entryPoints.websecure.transport.respondingTimeouts.readTimeout,
    `${MAX_REQUEST_SECONDS}s`,
    'slow uploads get as long as every other hop gives them'
  )
  t.same(Object.keys(stat.providers), ['file'], 'no Docker provider, no socket')
  t.notMatch(committed.static, /docker|\.sock/i)
  t.equal(stat.ping.entryPoint, 'ping')
  t.notOk(['', ':80', ':443'].includes(stat.entryPoints.ping.address))
  t.equal(stat.accessLog.fields.headers.defaultMode, 'drop', 'cookies and tokens never reach the access log')
  t.notOk('api' in stat, 'no dashboard/API')
  t.equal(dyn.tls.options.default.minVersion, 'VersionTLS12')
})

t.test('the upload body limit is FILES_MAX_BYTES plus the multipart overhead, in one place', async (t) => {
  const { DEFAULT_FILES_MAX_BYTES, FILE_UPLOAD_OVERHEAD_BYTES, filesMaxBytesFrom, routesFor } = await import('@palisade/contracts')
  const upload = (routes: readonly Route[]) => routes.find((r) => r.id === 'files-api')!.bodyLimit
  t.equal(upload(ROUTES), DEFAULT_FILES_MAX_BYTES + FILE_UPLOAD_OVERHEAD_BYTES)
  const big = 100 * 1024 * 1024
  const routes = routesFor({ filesMaxBytes: big })
  t.equal(upload(routes), big + FILE_UPLOAD_OVERHEAD_BYTES, 'a larger FILES_MAX_BYTES raises the edge limit with it')
  const dyn = buildDynamicConfig(PRODUCTION_TARGET, routes) as {
    http: { routers: Record<string, Router>; middlewares: Record<string, { buffering?: { maxRequestBodyBytes: number } }> }
  }
  const mw = dyn.http.routers['files-api']!.middlewares.find((m) => m.startsWith('body-limit-'))!
  t.equal(dyn.http.middlewares[mw]!.buffering!.maxRequestBodyBytes, big + FILE_UPLOAD_OVERHEAD_BYTES, "and Traefik's buffering limit")
  t.equal(filesMaxBytesFrom({ FILES_MAX_BYTES: String(big) }), big, 'read from the environment like the service reads it')
  t.equal(filesMaxBytesFrom({}), undefined)
  t.throws(() => filesMaxBytesFrom({ FILES_MAX_BYTES: '-1' }))
})

t.test('share-link tokens travel in the path: no access log on the way records them', async (t) => {
  const { SHARE_PATHS, redactTokenPaths } = await import('@palisade/contracts')
  const { logPath } = await import('../src/edge/responses.js')
  const dyn = parse(committed.dynamic) as { http: { routers: Record<string, Router & { observability?: { accessLogs?: boolean } }> } }
  const secret = ROUTES.filter((r) => r.secretPath)
  t.same(secret.map((r) => r.path).sort(), [SHARE_PATHS.signedIn, SHARE_PATHS.public].sort(), 'both share-link paths are marked')
  for (const r of ROUTES) {
    const router = dyn.http.routers[r.id]!
    if (r.secretPath) t.same(router.observability, { accessLogs: false, tracing: false }, `${r.id}: Traefik writes no access log line and no span`)
    else t.notOk(router.observability, `${r.id}: logged as usual`)
  }
  const stat = parse(committed.static) as { accessLog: { fields: { headers: { defaultMode: string; names: Record<string, string> } } } }
  t.equal(stat.accessLog.fields.headers.defaultMode, 'drop', 'request headers (a Referer carrying a link) are dropped from the access log')
  t.notOk(stat.accessLog.fields.headers.names.Referer, 'and Referer is not kept back')
  const token = 'A'.repeat(43)
  t.equal(redactTokenPaths(`/s/${token}`), '/s/[redacted]')
  t.equal(redactTokenPaths(`/api/files/shared/${token}`), '/api/files/shared/[redacted]')
  t.equal(logPath(`/s/${token}?x=1`), '/s/[redacted]?…', "the local edge's log path")
  t.equal(redactTokenPaths('/api/files/abc'), '/api/files/abc', 'other paths stay')
})

/** Traefik v3's `tracing` options (install configuration reference): nothing else may appear. */
const TRACING_OPTIONS = {
  tracing: ['addInternals', 'serviceName', 'resourceAttributes', 'sampleRate', 'capturedRequestHeaders', 'capturedResponseHeaders', 'safeQueryParams', 'otlp'],
  otlp: ['http', 'grpc'],
  http: ['endpoint', 'headers', 'tls']
}

t.test('OTLP tracing: off in the committed configuration, on with OTEL_EXPORTER_OTLP_ENDPOINT like the services', async (t) => {
  t.notOk('tracing' in stat, 'off by default: no tracing section, Traefik makes no spans')
  const endpoint = 'http://otel-collector:4318'
  const on = buildStaticConfig(PRODUCTION_TARGET, { otlpEndpoint: endpoint }) as Record<string, any>
  t.same(
    on.tracing,
    { serviceName: 'palisade-edge', otlp: { http: { endpoint: `${endpoint}/v1/traces` } } },
    'the OTLP/HTTP traces path, as the services export to'
  )
  const { tracing: _tracing, ...rest } = on
  t.same(rest, stat, 'nothing else changes')
  for (const [key, allowed] of [
    [on.tracing, TRACING_OPTIONS.tracing],
    [on.tracing.otlp, TRACING_OPTIONS.otlp],
    [on.tracing.otlp.http, TRACING_OPTIONS.http]
  ] as const) {
    for (const k of Object.keys(key)) t.ok(allowed.includes(k), `${k} is a Traefik tracing option`)
  }
  t.notOk(on.tracing.capturedRequestHeaders, 'no request header (Cookie, Authorization) becomes a span attribute')
  t.notOk(on.tracing.safeQueryParams, 'every query parameter stays redacted')
  t.ok(new URL(on.tracing.otlp.http.endpoint).pathname.endsWith('/v1/traces'))
  t.same(parse(renderYaml('static configuration', on)), on, 'renders to YAML that reads back the same')
  t.same(tracingConfig('https://collector.example:4318/'), {
    serviceName: 'palisade-edge',
    otlp: { http: { endpoint: 'https://collector.example:4318/v1/traces' } }
  })
  for (const bad of ['otel-collector:4318', 'ftp://collector', 'http://user:secret@collector:4318', 'http://collector:4318?x=1', ''])
    t.throws(() => tracingConfig(bad), /OTEL_EXPORTER_OTLP_ENDPOINT/, `refused: ${JSON.stringify(bad)}`)

  // The command reads the variable: with it set, the committed (tracing-off) static file is stale.
  const gen = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--conditions=development', '--import=tsx', 'scripts/src/gen-traefik.ts', '--check'], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      encoding: 'utf8'
    })
  const withTracing = gen({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })
  t.equal(withTracing.status, 1)
  t.match(withTracing.stderr, /deploy\/traefik\/traefik\.yml is out of date/)
  t.notMatch(withTracing.stderr, /dynamic\.yml/, 'routing is the same')
  t.equal(gen({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).status, 0, 'empty is unset, as for the services')
})

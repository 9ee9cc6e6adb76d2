import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import { AUTH_COOKIES, IDENTITY_HEADERS, REQUEST_ID_HEADER, type LoginResponse } from '@palisade/contracts'
import { generateSigningKey, serverOptions, signingKeyToPem, type BaseConfig } from '@palisade/platform'
import { createTestDatabase, startNatsServer, testConfig } from '@palisade/platform/testing'
import { startServiceProcess } from './service-process.js'

export { REPO_ROOT, startServiceProcess, type ServiceProcess, type ServiceProcessOptions } from './service-process.js'

/** What the stack needs from a test: somewhere to register cleanup (a tap `Test` fits). */
export interface TeardownHost {
  teardown(fn: () => unknown): void
}

export interface TestUser {
  userId: string
  email: string
  password: string
  displayName: string
  sessionId: string
  accessToken: string
  /** value for a `Cookie` request header: `palisade_access=<token>` */
  cookie: string
  /** the refresh token from the login's Set-Cookie (for refresh tests) */
  refreshToken: string
}

export interface IdentityRequest {
  /** the original request's method (X-Forwarded-Method); default GET */
  method?: string
  /** the original request's path and query (X-Forwarded-Uri), e.g. `/api/chat/conversations` */
  uri: string
  /** how the token travels to /verify; default `bearer` (no Origin needed for unsafe methods) */
  via?: 'bearer' | 'cookie'
  /** Origin of the original request (needed for cookie-authenticated unsafe methods and WebSockets) */
  origin?: string
  /** any further original request headers (e.g. `sec-websocket-key`) */
  headers?: Record<string, string>
}

export interface IdentityHeaders {
  'x-authenticated-user': string
  'x-authenticated-session': string
  'x-authenticated-assertion': string
  'x-request-id': string
  [name: string]: string
}

/**
 * Auth's settings as the stack passes them (environment variable names). testkit knows auth only
 * by path and by its settings' names, never by its sources.
 */
export type AuthSettings = BaseConfig & { AUTH_SIGNING_KEYS?: string; [name: string]: unknown }

export interface TestStack {
  natsUrl: string
  databaseUrl: string
  /** base URL of the listening auth service, e.g. `http://127.0.0.1:41234` */
  authUrl: string
  authConfig: AuthSettings
  /** a BaseConfig for another service on the same database and NATS (plus the service's own keys) */
  config<T extends Record<string, unknown> = Record<string, never>>(overrides?: Partial<BaseConfig> & T): BaseConfig & T
  /** registers and logs in a fresh user through auth's real HTTP endpoints */
  createUser(opts?: { displayName?: string; email?: string; password?: string }): Promise<TestUser>
  /** what the edge would stamp on the upstream request, from auth's real /auth/verify */
  identityHeaders(user: Pick<TestUser, 'accessToken'>, req: IdentityRequest): Promise<IdentityHeaders>
  /** starts one more auth instance on the same database and NATS (revocation tests) */
  startAuth(overrides?: Partial<AuthSettings>): Promise<{ url: string }>
}

/** The stack of auth's own tests: auth runs in this process, so a test can `inject` and reach its pool. */
export interface InProcessTestStack<C extends BaseConfig> extends Omit<TestStack, 'authConfig' | 'startAuth'> {
  auth: FastifyInstance
  authConfig: C
  startAuth(overrides?: Partial<C>): Promise<{ app: FastifyInstance; url: string }>
}

export interface StartTestStackOptions<C extends BaseConfig = AuthSettings> {
  /** settings for the auth instance (e.g. lower rate limits in throttling tests) */
  auth?: Partial<C>
  /** pino stream for the auth instance's logs (captureLogs().stream) */
  authLogStream?: NodeJS.WritableStream
  /** NATS to use (e.g. a startNatsCluster's URLs, stopped by the test) instead of a private nats-server */
  natsUrl?: string
}

let userCounter = 0

export class TestkitError extends Error {
  override name = 'TestkitError'
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: string
  ) {
    super(message)
  }
}

/**
 * A fresh database and a private nats-server for one test, and the real auth service (migrated,
 * listening on 127.0.0.1 on a random port): started from `services/auth/src/server.ts` as its own
 * process, or, given `authApp` (auth's own tests), in this process. Everything stops on
 * `t.teardown`, in order: auth instances, then NATS, then the database.
 */
export async function startTestStack<C extends BaseConfig>(
  t: TeardownHost,
  opts: StartTestStackOptions<C> & { authApp: FastifyPluginAsync<{ config: C }> }
): Promise<InProcessTestStack<C>>
export async function startTestStack(t: TeardownHost, opts?: StartTestStackOptions): Promise<TestStack>
export async function startTestStack(
  t: TeardownHost,
  opts: StartTestStackOptions<AuthSettings> & { authApp?: FastifyPluginAsync<{ config: AuthSettings }> } = {}
): Promise<TestStack | InProcessTestStack<AuthSettings>> {
  const cleanups: (() => Promise<unknown>)[] = []
  t.teardown(async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {})
  })
  const db = await createTestDatabase('t')
  cleanups.push(() => db.drop())
  const nats = opts.natsUrl ? { url: opts.natsUrl } : await startNatsServer()
  if ('stop' in nats) cleanups.push(() => nats.stop())

  const base = testConfig({ DATABASE_URL: db.url, NATS_URL: nats.url })
  const authConfig: AuthSettings = {
    ...base,
    AUTH_SIGNING_KEYS: signingKeyToPem(generateSigningKey()),
    AUTH_ACCESS_TTL_SECONDS: 900,
    AUTH_REFRESH_TTL_SECONDS: 30 * 86400,
    AUTH_REFRESH_GRACE_SECONDS: 10,
    AUTH_SESSION_IDLE_SECONDS: 7 * 86400,
    AUTH_MAX_SESSIONS_PER_USER: 20,
    // Tests register many users from 127.0.0.1; throttling tests lower this themselves.
    AUTH_RATE_LIMIT_PER_MINUTE: 100_000,
    AUTH_USER_LOOKUPS_PER_MINUTE: 30,
    AUTH_LOGIN_FAILURES_PER_ADDRESS: 100,
    // Every test registers people at will; tests of registration modes and invites override it.
    AUTH_REGISTRATION: 'open',
    // createUser signs in with the password alone; second-factor tests set the policy themselves.
    AUTH_REQUIRE_MFA: 'none',
    AUTH_MFA_KEY: randomBytes(32).toString('hex'),
    AUTH_WEBAUTHN_ORIGIN: 'http://localhost:8080',
    ...opts.auth
  }

  const authApp = opts.authApp
  async function startAuth(overrides: Partial<AuthSettings> = {}, logStream?: NodeJS.WritableStream): Promise<{ app?: FastifyInstance; url: string }> {
    const config = { ...authConfig, ...overrides }
    if (!authApp) {
      const env: Record<string, string> = {}
      for (const [name, value] of Object.entries(config)) if (value !== undefined && name !== 'HOST' && name !== 'PORT') env[name] = String(value)
      const proc = await startServiceProcess('auth', env, logStream ? { logStream } : {})
      cleanups.push(() => proc.stop())
      return { url: proc.url }
    }
    const app = Fastify(serverOptions({ service: 'auth', logLevel: config.LOG_LEVEL, ...(logStream ? { logStream } : {}) }))
    cleanups.push(() => app.close())
    await app.register(authApp, { config })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as { port: number }
    return { app, url: `http://127.0.0.1:${port}` }
  }

  const first = await startAuth({}, opts.authLogStream)
  const authUrl = first.url

  async function post(path: string, body: unknown): Promise<Response> {
    return fetch(authUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  }

  return {
    natsUrl: nats.url,
    databaseUrl: db.url,
    authUrl,
    ...(first.app ? { auth: first.app } : {}),
    authConfig,
    startAuth: (overrides?: Partial<AuthSettings>) => startAuth(overrides) as Promise<{ app: FastifyInstance; url: string }>,

    config<T extends Record<string, unknown>>(overrides?: Partial<BaseConfig> & T): BaseConfig & T {
      return { ...base, ...overrides } as BaseConfig & T
    },

    async createUser(o = {}) {
      const n = ++userCounter
      const email = o.email ?? `user${n}-${randomBytes(4).toString('hex')}@test.palisade.example`
      const password = o.password ?? `pw-${randomBytes(12).toString('base64url')}`
      const displayName = o.displayName ?? `Test User ${n}`
      const reg = await post('/auth/register', { email, password, displayName })
      if (reg.status !== 201) throw new TestkitError(`register failed with ${reg.status}`, reg.status, await reg.text())
      const login = await post('/auth/login', { email, password })
      if (login.status !== 200) throw new TestkitError(`login failed with ${login.status}`, login.status, await login.text())
      const body = (await login.json()) as LoginResponse
      const refresh = login.headers
        .getSetCookie()
        .map((c) => c.split(';')[0]!)
        .find((c) => c.startsWith(`${AUTH_COOKIES.refresh}=`))
      return {
        userId: body.user.id,
        email: body.user.email,
        password,
        displayName: body.user.displayName,
        sessionId: body.sessionId,
        accessToken: body.accessToken,
        cookie: `${AUTH_COOKIES.access}=${body.accessToken}`,
        refreshToken: refresh ? refresh.slice(AUTH_COOKIES.refresh.length + 1) : ''
      }
    },

    async identityHeaders(user, req) {
      const method = (req.method ?? 'GET').toUpperCase()
      const headers: Record<string, string> = {
        'x-forwarded-method': method,
        'x-forwarded-uri': req.uri,
        'x-forwarded-host': 'localhost:8080',
        'x-forwarded-proto': 'http',
        'x-forwarded-for': '127.0.0.1',
        accept: 'application/json',
        ...req.headers
      }
      if ((req.via ?? 'bearer') === 'bearer') headers.authorization = `Bearer ${user.accessToken}`
      else headers.cookie = `${AUTH_COOKIES.access}=${user.accessToken}`
      if (req.origin) headers.origin = req.origin
      const res = await fetch(`${authUrl}/auth/verify`, { headers, redirect: 'manual' })
      if (res.status !== 200) throw new TestkitError(`/auth/verify answered ${res.status} for ${method} ${req.uri}`, res.status, await res.text())
      const out: IdentityHeaders = {
        [IDENTITY_HEADERS.user]: res.headers.get(IDENTITY_HEADERS.user) ?? '',
        [IDENTITY_HEADERS.session]: res.headers.get(IDENTITY_HEADERS.session) ?? '',
        [IDENTITY_HEADERS.assertion]: res.headers.get(IDENTITY_HEADERS.assertion) ?? '',
        [REQUEST_ID_HEADER]: res.headers.get(REQUEST_ID_HEADER) ?? ''
      } as IdentityHeaders
      if (!out[IDENTITY_HEADERS.assertion]) throw new TestkitError(`${req.uri} is not routed to an application service: no assertion`)
      return out
    }
  }
}

export interface BuildServiceOptions {
  /** pino destination (captureLogs().stream) */
  logStream?: NodeJS.WritableStream
  /** service name in logs; default `test` */
  service?: string
  bodyLimit?: number
  /** also listen on 127.0.0.1:<random> (WebSocket and end-to-end tests); the URL is `baseUrl(app)` */
  listen?: boolean
}

/**
 * A service under test the way runServer builds it: Fastify with the shared server options, the
 * service's app plugin registered with `{ config }`, ready (and listening when asked). Closed on teardown.
 */
export async function buildService<C extends BaseConfig>(
  t: TeardownHost,
  plugin: FastifyPluginAsync<{ config: C }>,
  config: C,
  opts: BuildServiceOptions = {}
): Promise<FastifyInstance> {
  const app = Fastify(
    serverOptions({
      service: opts.service ?? 'test',
      logLevel: config.LOG_LEVEL,
      ...(opts.logStream ? { logStream: opts.logStream } : {}),
      ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {})
    })
  )
  t.teardown(() => app.close())
  await app.register(plugin, { config })
  if (opts.listen) await app.listen({ host: '127.0.0.1', port: 0 })
  else await app.ready()
  return app
}

/** `http://127.0.0.1:<port>` of a listening Fastify instance. */
export function baseUrl(app: FastifyInstance): string {
  const { port } = app.server.address() as { port: number }
  return `http://127.0.0.1:${port}`
}

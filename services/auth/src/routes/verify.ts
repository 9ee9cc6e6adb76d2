import type { FastifyPluginAsync, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify'
import {
  APP_SERVICES,
  AUTH_COOKIES,
  BEARER_AUTHORIZATION,
  ErrorCode,
  IDENTITY_HEADERS,
  PERSONAL_TOKEN_BEARER,
  protocolBearer,
  PROBLEM_CONTENT_TYPE,
  isNeverRoutable,
  normalizeRequestPath,
  resolveRoute,
  tokenScopesFor,
  type AppServiceName,
  type Route
} from '@palisade/contracts'
import { ProblemError, problemBody, securityHeaders } from '@palisade/platform'
import type { AuthCore } from '../lib/core.js'
import { TokenCache, type VerifiedAccess } from '../lib/token-cache.js'
import { isPersonalToken, verifyPersonalToken } from '../lib/personal-tokens.js'
import type { TokenUsage } from '../lib/token-usage.js'

export interface VerifyRouteOptions {
  core: AuthCore
  allowedOrigins: ReadonlySet<string>
  tokenUsage: TokenUsage
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
const APP_SERVICE_SET = new Set<string>(APP_SERVICES)
interface OriginCheck {
  /** unsafe method, WebSocket handshake, or a WebSocket route named by a foreign Origin */
  needed: boolean
  origin: string | undefined
  viaCookie: boolean
  rawUri: string | undefined
  path: string | undefined
  route: Route
  method: string
  /** a plain GET on a WebSocket route: the gateway's lease renewal */
  renewal: boolean
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v
}

/**
 * `next` for the login redirect: the original path (and query) only when it is unmistakably a
 * path on this site — one leading '/', no '//' or backslash anywhere, no scheme, no control
 * characters, not absurdly long. Anything else goes back to '/'. Never an absolute URL.
 */
export function safeNext(rawUri: string | undefined): string {
  if (!rawUri || rawUri.length > 2048) return '/'
  if (!rawUri.startsWith('/') || rawUri.startsWith('//')) return '/'
  if (/[\\\x00-\x1f\x7f\s]/.test(rawUri) || rawUri.includes('//') || /%(2f|5c|00|0a|0d|09)/i.test(rawUri)) return '/'
  if (/^\/[a-z][a-z0-9+.-]*:/i.test(rawUri)) return '/'
  if (normalizeRequestPath(rawUri) === undefined) return '/'
  return rawUri
}

/** A top-level HTML page load, as opposed to fetch/XHR/WebSocket/API use. */
export function isNavigation(request: FastifyRequest): boolean {
  const accept = one(request.headers.accept)
  if (!accept?.includes('text/html')) return false
  const mode = one(request.headers['sec-fetch-mode'])
  return mode === undefined || mode === 'navigate'
}

const ACCESS_PREFIX = `${AUTH_COOKIES.access}=`

/**
 * The access cookie's value from a Cookie header; undefined when absent, null when it appears more
 * than once (cookie tossing: a sibling subdomain or a longer Path planting its own token ahead of
 * the user's must not decide who the request acts as).
 */
export function accessCookie(header: string | string[] | undefined): string | undefined | null {
  if (typeof header !== 'string') return undefined
  let found: string | undefined
  let from = 0
  for (;;) {
    const at = header.indexOf(ACCESS_PREFIX, from)
    if (at === -1) return found || undefined
    from = at + ACCESS_PREFIX.length
    // only a cookie name at the start of a pair counts (not `xpalisade_access=`)
    let i = at - 1
    while (i >= 0 && (header[i] === ' ' || header[i] === '\t')) i--
    if (i >= 0 && header[i] !== ';') continue
    if (found !== undefined) return null
    const end = header.indexOf(';', from)
    found = header.slice(from, end === -1 ? undefined : end).trim()
  }
}

const SIMPLE_PATH = /^\/[A-Za-z0-9_~/-]*$/

/**
 * normalizeRequestPath with a fast path: a path of only letters, digits, `_~-/` and no `//` is
 * returned by it unchanged (nothing to decode, no dot segments), so it is taken as is.
 */
export function requestPath(rawUri: string): string | undefined {
  const q = rawUri.indexOf('?')
  const p = q === -1 ? rawUri : rawUri.slice(0, q)
  if (rawUri.length <= 8192 && SIMPLE_PATH.test(p) && !p.includes('//') && !rawUri.includes('#')) return p
  return normalizeRequestPath(rawUri)
}

/**
 * GET /auth/verify — the ForwardAuth endpoint. Internal only: the route table never routes it, and
 * it trusts only the X-Forwarded-* the proxy rebuilt. Answers 200 with the identity headers (and an
 * assertion bound to the target service), 401 problem+json for API and WebSocket requests, 302 to
 * the login page for HTML navigations, 403 for a foreign Origin on a cookie-authenticated unsafe
 * request or any WebSocket handshake.
 */
export const verifyRoute: FastifyPluginAsync<VerifyRouteOptions> = async (app, opts) => {
  const { core, allowedOrigins, tokenUsage } = opts
  const issuer = core.config.AUTH_ISSUER

  // reason: the problem code of a denial; for an allowance public, session or token (a personal access token).
  const verifyTotal = app.metrics.counter({ name: 'auth_verify_total', help: 'ForwardAuth decisions', labelNames: ['outcome', 'reason'] })

  function deny(reply: FastifyReply, err: ProblemError, navigation: boolean, rawUri: string | undefined, path: string | undefined): FastifyReply {
    verifyTotal.inc({ outcome: 'deny', reason: err.code })
    if (err.statusCode === 401 && navigation) {
      return reply
        .code(302)
        .header('location', `/login?next=${encodeURIComponent(safeNext(rawUri))}`)
        .header('cache-control', 'no-store')
        .headers(securityHeaders('authRedirect'))
        .send()
    }
    for (const [k, v] of Object.entries(err.headers)) reply.header(k, v)
    return reply
      .headers(securityHeaders('authDenial'))
      .code(err.statusCode)
      .type(PROBLEM_CONTENT_TYPE)
      .header('cache-control', 'no-store')
      .send(problemBody(err.statusCode, err.code, err.statusCode >= 500 ? undefined : err.message, path))
  }

  // Per-request cost matters here (every request of every user comes through): no helmet (the
  // proxy does not relay a 200's headers; denials get SECURITY_HEADERS.authDenial), no rate limit (one proxy address), no CORS (the proxy
  // calls it, never a browser), no cookie plugin (only one cookie is read), no access log.
  // Every request of the platform passes here, so no per-request child logger (pino child +
  // redaction of its bindings cost more than the token check): one shared warn-level logger for
  // this route; the few lines it writes carry the request id explicitly.
  const verifyLog = app.log.child({ route: 'verify' }, { level: app.log.level === 'silent' ? 'silent' : 'warn' })
  app.setChildLoggerFactory(() => verifyLog)
  const routeOptions = { logLevel: 'warn', helmet: false, config: { public: true, rateLimit: false, cors: false } } as RouteShorthandOptions
  function allow(reply: FastifyReply, identity: VerifiedAccess, service: string, check: OriginCheck): FastifyReply {
    if (identity.scopes) {
      // A personal access token: the route table says which scopes this method needs here (none
      // listed: tokens may not use the route), then the token's own request budget.
      const needed = tokenScopesFor(check.route, check.method)
      const scopes = identity.scopes
      if (!needed?.every((s) => scopes.includes(s))) {
        const detail = needed ? `This token lacks the scope ${needed.filter((s) => !scopes.includes(s)).join(', ')}` : 'Access tokens cannot be used here'
        return deny(reply, new ProblemError(403, ErrorCode.insufficientScope, detail), false, check.rawUri, check.path)
      }
      const wait = tokenUsage.take(identity.sessionId)
      if (wait > 0) {
        const err = new ProblemError(429, ErrorCode.tooManyRequests, 'Too many requests with this token', { 'retry-after': String(wait) })
        return deny(reply, err, false, check.rawUri, check.path)
      }
      tokenUsage.touch(identity.sessionId)
    }
    // CSRF and cross-site WebSocket hijacking: a browser attaches the cookie by itself, so a
    // cookie-authenticated unsafe request or handshake must name an allowed Origin. A bearer token
    // cannot be attached by a foreign page, but on an unsafe HTTP request a foreign Origin is
    // refused all the same (bearer handshakes: see `needed`).
    if (check.needed && (check.origin === undefined ? check.viaCookie : !allowedOrigins.has(check.origin))) {
      return deny(reply, new ProblemError(403, ErrorCode.forbiddenOrigin, 'Origin not allowed'), false, check.rawUri, check.path)
    }
    verifyTotal.inc({ outcome: 'allow', reason: identity.scopes ? 'token' : 'session' })
    reply.header(IDENTITY_HEADERS.user, identity.userId)
    reply.header(IDENTITY_HEADERS.session, identity.sessionId)
    if (APP_SERVICE_SET.has(service)) {
      const now = Math.floor(Date.now() / 1000)
      reply.header(IDENTITY_HEADERS.assertion, core.cache.assertionFor(identity, service as AppServiceName, core.keys.signer, issuer, now, check.renewal))
    }
    // X-Request-Id is added by the platform's onSend hook, as on every response.
    return reply.code(200).send()
  }

  // Not async: a cache hit (the common case) is answered without a promise or a microtask.
  app.get('/auth/verify', routeOptions, function verify(request, reply) {
    const h = request.headers
    const method = one(h['x-forwarded-method'])?.toUpperCase()
    const rawUri = one(h['x-forwarded-uri'])
    const path = rawUri ? requestPath(rawUri) : undefined
    if (!method || !/^[A-Z]{1,16}$/.test(method) || !path) {
      return deny(reply, new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required'), false, undefined, undefined)
    }
    const route = isNeverRoutable(path) ? undefined : resolveRoute(path)
    if (!route) return deny(reply, new ProblemError(404, ErrorCode.notFound, 'Not found'), false, undefined, path)
    if (route.access === 'public') {
      verifyTotal.inc({ outcome: 'allow', reason: 'public' })
      return reply.code(200).send()
    }

    // A handshake is known by Sec-WebSocket-Key (every RFC 6455 client sends it and a proxy never
    // strips it, unlike the hop-by-hop Upgrade) or by Upgrade when it does arrive. A plain GET on a
    // WebSocket route (the gateway's lease renewal) is an ordinary safe request: browsers send no
    // Origin on a same-origin GET, so demanding one there would refuse every browser's renewal.
    const handshake = h['sec-websocket-key'] !== undefined || /websocket/i.test(one(h.upgrade) ?? '')
    const websocket = route.websocket || handshake
    const navigation = !websocket && isNavigation(request)
    const unauthenticated = () => deny(reply, new ProblemError(401, ErrorCode.unauthenticated, 'Authentication required'), navigation, rawUri, path)
    const mixed = () =>
      deny(reply, new ProblemError(400, ErrorCode.mixedCredentials, 'Send one credential: a session cookie or a bearer token'), false, rawUri, path)

    // Token: Authorization header first (API clients), else the access cookie. Never a query string.
    let token: string | undefined
    let viaCookie = false
    const authz = h.authorization
    if (authz !== undefined) {
      const m = typeof authz === 'string' ? (BEARER_AUTHORIZATION.exec(authz) ?? PERSONAL_TOKEN_BEARER.exec(authz)) : null
      if (!m) return unauthenticated()
      // One credential per request: a cookie beside a bearer would leave it to chance (and to each
      // hop) whose identity the request carries.
      if (accessCookie(h.cookie) !== undefined) return mixed()
      token = m[1]
      if (handshake && protocolBearer(h['sec-websocket-protocol']) !== undefined) return mixed()
    } else {
      const cookie = accessCookie(h.cookie)
      if (cookie === null) return unauthenticated()
      // A WebSocket client that cannot set headers carries its bearer in Sec-WebSocket-Protocol.
      const offered = handshake ? protocolBearer(h['sec-websocket-protocol']) : undefined
      if (offered === null) return unauthenticated()
      if (offered !== undefined && cookie !== undefined) return mixed()
      token = offered ?? cookie
      viaCookie = offered === undefined && token !== undefined
    }
    if (!token) return unauthenticated()
    // Personal access tokens travel only in Authorization (never a cookie a page could plant).
    const personal = isPersonalToken(token)
    if (personal && viaCookie) return unauthenticated()

    const origin = one(h.origin)
    // On a WebSocket route even a safe GET from a foreign page is refused when it names itself.
    // Cross-site WebSocket hijacking rides on the ambient cookie: a handshake with a bearer (which
    // the page had to hold itself) is not bound to an Origin.
    const needed = handshake ? viaCookie : !SAFE_METHODS.has(method) || (route.websocket && origin !== undefined)
    const renewal = route.websocket && !handshake && method === 'GET'
    const check: OriginCheck = { needed, origin, viaCookie, rawUri, path, route, method, renewal }
    const hash = TokenCache.hash(token)
    const hit = core.cache.get(hash, Math.floor(Date.now() / 1000))
    if (hit) return allow(reply, hit, route.service, check)
    ;(personal ? verifyPersonalToken(core, token, hash) : core.verifyAccess(token, hash)).then(
      (identity) => allow(reply, identity, route.service, check),
      (err: unknown) => {
        if (err instanceof ProblemError) return deny(reply, err, navigation, rawUri, path)
        verifyLog.error({ reqId: request.id, err }, 'verification failed')
        return deny(reply, new ProblemError(503, ErrorCode.serviceUnavailable, 'Authentication is unavailable'), false, rawUri, path)
      }
    )
    return reply
  })
}

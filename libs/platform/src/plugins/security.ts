import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import helmet from '@fastify/helmet'
import cors, { type FastifyCorsOptions } from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import { ErrorCode, REQUEST_ID_HEADER } from '@palisade/contracts'
import { ProblemError } from '../problem.js'
import { clientLimitKey } from '../client-address.js'
import { HELMET_OPTIONS } from '../security-headers.js'

export interface SecurityPluginOptions {
  allowedOrigins: string[]
  /** default per-key request budget per minute; routes override with `config.rateLimit` */
  rateLimitPerMinute?: number
  /** where the counts live (default: this process's memory; pgRateLimitStore shares them between instances) */
  rateLimitStore?: unknown
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: this route takes no part in CORS (no Vary, no preflight answer) */
    cors?: boolean
  }
}

const CORS_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE'
const PREFLIGHT_MAX_AGE_SECONDS = 600

/**
 * Security headers (SECURITY_HEADERS.api, through @fastify/helmet; a route opts out with the route
 * option `helmet: false`), the request id, CORS for configured origins only (@fastify/cors: exact
 * origins, credentials, a fixed method list, request headers reflected), and a rate limit keyed by
 * the authenticated user when there is one (so users behind one NAT do not starve each other) and
 * by the client's address (as the edge saw it, see clientAddress) otherwise.
 *
 * All of it but the rate limit runs in onRequest hooks registered before identity's, so a 401
 * carries the headers, CORS and the request id too (a browser on an allowed origin can then read
 * it), and a preflight is answered before identity (browsers send no credentials with it).
 */
export const securityPlugin = fp<SecurityPluginOptions>(
  async (app, opts) => {
    const allowed = new Set(opts.allowedOrigins)

    app.addHook('onRequest', (request, reply, done) => {
      reply.header(REQUEST_ID_HEADER, request.id)
      done()
    })
    await app.register(helmet, HELMET_OPTIONS)

    const corsOptions: FastifyCorsOptions = {
      // An origin not on the list gets no CORS header at all (not even credentials) and no preflight.
      origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin)),
      credentials: true,
      methods: CORS_METHODS,
      maxAge: PREFLIGHT_MAX_AGE_SECONDS,
      strictPreflight: false
    }
    // An OPTIONS without Access-Control-Request-Method is no preflight: @fastify/cors only adds the
    // origin headers, and the hook after it answers a client mistake (problem+json, not cors's text/plain).
    const notPreflight: FastifyCorsOptions = { ...corsOptions, preflight: false }
    const bareOptions = (req: FastifyRequest) => req.method === 'OPTIONS' && typeof req.headers['access-control-request-method'] !== 'string'
    await app.register(cors, { delegator: (req, cb) => cb(null, bareOptions(req) ? notPreflight : corsOptions) })
    app.addHook('onRequest', (request, reply, done) => {
      if (!bareOptions(request) || !reply.hasHeader('access-control-allow-origin')) return done()
      done(new ProblemError(400, ErrorCode.validationFailed, 'A preflight needs Access-Control-Request-Method'))
    })

    await app.register(rateLimit, {
      global: true,
      max: opts.rateLimitPerMinute ?? 600,
      ...(opts.rateLimitStore ? { store: opts.rateLimitStore as never } : {}),
      timeWindow: 60_000,
      // preHandler: runs after the identity hook, so the key is the verified user, never a header.
      hook: 'preHandler',
      keyGenerator: (req) => (req.identity ? `u:${req.identity.userId}` : `ip:${clientLimitKey(req)}`),
      errorResponseBuilder: (_req, ctx) =>
        new ProblemError(429, ErrorCode.tooManyRequests, 'Too many requests', { 'retry-after': String(Math.ceil(ctx.ttl / 1000)) })
    })
  },
  { name: 'palisade-security' }
)

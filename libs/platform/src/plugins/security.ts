import fp from 'fastify-plugin'
import helmet from '@fastify/helmet'
import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import { ErrorCode } from '@palisade/contracts'
import { ProblemError } from '../problem.js'

export interface SecurityPluginOptions {
  allowedOrigins: string[]
  /** default per-key request budget per minute; routes override with `config.rateLimit` */
  rateLimitPerMinute?: number
}

/**
 * Security headers, CORS for configured origins only, and a rate limit keyed by the authenticated
 * user when there is one (so users behind one NAT do not starve each other) and by IP otherwise.
 */
export const securityPlugin = fp<SecurityPluginOptions>(
  async (app, opts) => {
    await app.register(helmet, {
      contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'self'"] } },
      strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
      crossOriginResourcePolicy: { policy: 'same-origin' },
      referrerPolicy: { policy: 'no-referrer' }
    })
    await app.register(cors, {
      origin: (origin, cb) => cb(null, origin !== undefined && opts.allowedOrigins.includes(origin)),
      credentials: true,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      maxAge: 600
    })
    await app.register(rateLimit, {
      global: true,
      max: opts.rateLimitPerMinute ?? 600,
      timeWindow: 60_000,
      // preHandler: runs after the identity hook, so the key is the verified user, never a header.
      hook: 'preHandler',
      keyGenerator: (req) => (req.identity ? `u:${req.identity.userId}` : `ip:${req.ip}`),
      errorResponseBuilder: (_req, ctx) => new ProblemError(429, ErrorCode.tooManyRequests, 'Too many requests', { 'retry-after': String(Math.ceil(ctx.ttl / 1000)) })
    })
  },
  { name: 'palisade-security' }
)

import fp from 'fastify-plugin'
import type { AppServiceName } from '@palisade/contracts'
import { splitList, type BaseConfig } from '../config.js'
import { clientAddressPlugin } from '../client-address.js'
import { errorHandlerPlugin } from './error-handler.js'
import { securityPlugin } from './security.js'
import { healthPlugin } from './health.js'
import { natsPlugin } from './nats.js'
import { dbPlugin } from './db.js'
import { identityPlugin } from './identity.js'
import { metricsPlugin } from './metrics.js'
import { tracingPlugin } from './tracing.js'
import { outboxPlugin } from './outbox.js'
import { observeNatsRequests } from '../nats/client.js'
import { pgRateLimitStore, pruneRateLimitsNowAndThen, type SharedRateLimits } from '../db/rate-limit-store.js'

/** BaseConfig where DATABASE_URL may be absent (services without a database, `database: false`). */
export type PlatformConfig = Omit<BaseConfig, 'DATABASE_URL'> & Partial<Pick<BaseConfig, 'DATABASE_URL'>>

export interface PlatformOptions {
  service: AppServiceName
  config: PlatformConfig
  /** false for a service that owns no data (the gateway): no pool, no migrations, no DB readiness check */
  database?: boolean
  /** drizzle migrations folder of the service */
  migrationsFolder?: string
  /** skip the identity plugin (auth verifies its own tokens) */
  identity?: boolean
  rateLimitPerMinute?: number
  /**
   * rate-limit counts in the service's `rate_limits` table (its migrations must create it), shared by
   * all its instances, instead of each instance's memory: `all` of them, or only the `routes`' own budgets
   */
  sharedRateLimits?: SharedRateLimits
  /** the service publishes domain events through a transactional outbox (`app.outbox`) */
  outbox?: boolean
}

/**
 * Everything a Palisade service stands on, in dependency order: metrics, the client address (trusted
 * proxies), error handling, security headers,
 * CORS and rate limits, NATS, PostgreSQL (with migrations and the outbox), identity verification, health checks.
 */
export const platformPlugin = fp<PlatformOptions>(
  async (app, opts) => {
    const { config } = opts
    // Before any request hook, so that every answer is counted and traced, a refused one included.
    await app.register(tracingPlugin, { service: opts.service })
    await app.register(metricsPlugin, { service: opts.service, host: config.METRICS_HOST, port: config.METRICS_PORT })
    // Next: a bad or (in production) missing TRUSTED_PROXIES stops the service before anything starts.
    await app.register(clientAddressPlugin, { trustedProxies: config.TRUSTED_PROXIES, production: config.NODE_ENV === 'production' })
    await app.register(errorHandlerPlugin)
    // First of the request hooks: every answer, a 401 from identity included, carries the headers.
    await app.register(securityPlugin, {
      allowedOrigins: splitList(config.ALLOWED_ORIGINS),
      ...(opts.rateLimitPerMinute ? { rateLimitPerMinute: opts.rateLimitPerMinute } : {}),
      // The pool is registered below; the store asks for it only when a request is counted.
      ...(opts.sharedRateLimits && opts.database !== false ? { rateLimitStore: pgRateLimitStore(() => app.pg, opts.service, opts.sharedRateLimits) } : {})
    })
    await app.register(natsPlugin, { connection: { url: config.NATS_URL, name: opts.service, user: config.NATS_USER, pass: config.NATS_PASSWORD } })
    observeNatsRequests(app.nats, (subject, seconds) => app.metrics.natsRequestDuration.observe({ service: opts.service, subject }, seconds))
    if (opts.database !== false) {
      if (!config.DATABASE_URL) throw new Error(`${opts.service}: DATABASE_URL is required`)
      await app.register(dbPlugin, {
        url: config.DATABASE_URL,
        name: opts.service,
        schema: opts.service,
        ...(opts.migrationsFolder ? { migrationsFolder: opts.migrationsFolder } : {})
      })
      if (opts.outbox) await app.register(outboxPlugin, { service: opts.service, url: config.DATABASE_URL, schema: opts.service })
      if (opts.sharedRateLimits) pruneRateLimitsNowAndThen(app, opts.service)
    }
    if (opts.identity !== false) await app.register(identityPlugin, { service: opts.service, issuer: config.AUTH_ISSUER })
    await app.register(healthPlugin)
  },
  { name: 'palisade-platform' }
)

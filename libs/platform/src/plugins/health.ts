import fp from 'fastify-plugin'
import { DATABASE_RETRY_AFTER_SECONDS } from '../db/unavailable.js'

export interface HealthPluginOptions {
  /** extra readiness checks beyond DB and NATS; each throws when not ready */
  checks?: Record<string, () => Promise<void>>
}

/** `/healthz`: the process answers. `/readyz`: its dependencies answer too. Never routed by the edge. */
export const healthPlugin = fp<HealthPluginOptions>(
  async (app, opts) => {
    app.get('/healthz', { config: { public: true, rateLimit: false }, logLevel: 'warn' }, async () => ({ status: 'ok' }))
    app.get('/readyz', { config: { public: true, rateLimit: false }, logLevel: 'warn' }, async (_req, reply) => {
      const results: Record<string, string> = {}
      const checks: Record<string, () => Promise<void>> = { ...opts.checks }
      if (app.hasDecorator('pg')) checks.database = async () => void (await app.pg.query('SELECT 1'))
      if (app.hasDecorator('nats')) {
        checks.nats = async () => {
          if (app.nats.isClosed()) throw new Error('closed')
          await app.nats.flush()
        }
      }
      let ok = true
      await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          try {
            await Promise.race([check(), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 2000).unref())])
            results[name] = 'ok'
          } catch {
            ok = false
            results[name] = 'unavailable'
          }
        })
      )
      if (!ok) reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS))
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks: results })
    })
  },
  { name: 'palisade-health' }
)

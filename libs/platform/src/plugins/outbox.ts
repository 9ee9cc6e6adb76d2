import fp from 'fastify-plugin'
import { Outbox } from '../outbox/outbox.js'
import { OutboxRelay } from '../outbox/relay.js'

declare module 'fastify' {
  interface FastifyInstance {
    outbox: Outbox
  }
}

export interface OutboxPluginOptions {
  service: string
  /** connection string of the service's database (the relay LISTENs on a connection of its own) */
  url: string
  schema: string
}

/**
 * The service's transactional outbox and its relay (see OutboxRelay). The relay starts once the
 * app is ready and stops after the service's own shutdown hooks, before NATS and the pool close.
 * Exposes `outbox_pending` and `outbox_lag_seconds` (age of the oldest unrelayed event), read from
 * the table at scrape time.
 */
export const outboxPlugin = fp<OutboxPluginOptions>(
  async (app, opts) => {
    const relay = new OutboxRelay({ pool: app.pg, url: opts.url, schema: opts.schema, nats: app.nats, log: app.log.child({ component: 'outbox' }) })
    const outbox = new Outbox(app.pg, opts.schema, () => relay.wake())
    app.decorate('outbox', outbox)
    app.addHook('onReady', async () => {
      await relay.start()
    })
    // onClose (run in reverse order of registration): after every preClose hook — the service's own
    // shutdown may still write events — and before NATS and the pool close.
    app.addHook('onClose', async () => {
      await relay.close()
    })

    // One query serves both gauges of a scrape.
    let snapshot: Promise<{ n: number; age: number }> | null = null
    const read = () => {
      snapshot ??= app.pg
        .query<{ n: string; age: number | null }>(`SELECT count(*) AS n, extract(epoch FROM now() - min(created_at))::float8 AS age FROM ${opts.schema}.outbox`)
        .then((r) => ({ n: Number(r.rows[0]?.n ?? 0), age: Math.max(0, r.rows[0]?.age ?? 0) }))
        .finally(() => setImmediate(() => (snapshot = null)))
      return snapshot
    }
    app.metrics.gauge({
      name: 'outbox_pending',
      help: 'Events written and not yet relayed to NATS',
      labelNames: ['service'],
      async collect() {
        this.set({ service: opts.service }, (await read()).n)
      }
    })
    app.metrics.gauge({
      name: 'outbox_lag_seconds',
      help: 'Age of the oldest event not yet relayed to NATS',
      labelNames: ['service'],
      async collect() {
        this.set({ service: opts.service }, (await read()).age)
      }
    })
  },
  { name: 'palisade-outbox', dependencies: ['palisade-db', 'palisade-nats', 'palisade-metrics'] }
)

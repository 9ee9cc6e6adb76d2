import fp from 'fastify-plugin'
import type { NatsConnection } from '@nats-io/transport-node'
import { connectNats, type NatsConnectOptions } from '../nats/client.js'

declare module 'fastify' {
  interface FastifyInstance {
    nats: NatsConnection
  }
}

export interface NatsPluginOptions {
  connection: NatsConnectOptions
}

/** One NATS connection per service instance; drained (in-flight replies finish) on close. */
export const natsPlugin = fp<NatsPluginOptions>(
  async (app, opts) => {
    const nc = await connectNats(opts.connection)
    app.decorate('nats', nc)
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') app.log.warn({ nats: s.type }, 'NATS connection status')
      }
    })()
    app.addHook('onClose', async () => {
      if (!nc.isClosed()) await nc.drain().catch(() => nc.close())
    })
  },
  { name: 'palisade-nats' }
)

import fp from 'fastify-plugin'
import { ServiceMetrics } from '../metrics/registry.js'
import { startMetricsServer, type MetricsServer } from '../metrics/server.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ServiceMetrics
    metricsServer: MetricsServer
  }
}

export interface MetricsPluginOptions {
  service: string
  host: string
  port: number
}

/**
 * Prometheus metrics of a service: request rate, errors and duration per route pattern (never the
 * raw URL: ids would explode the series), served by a listener of its own (METRICS_HOST/PORT).
 */
export const metricsPlugin = fp<MetricsPluginOptions>(
  async (app, opts) => {
    const metrics = new ServiceMetrics(opts.service)
    const server = await startMetricsServer(metrics.registry, opts.host, opts.port)
    app.decorate('metrics', metrics)
    app.decorate('metricsServer', server)
    app.addHook('onResponse', async (request, reply) => {
      const labels = {
        service: opts.service,
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode)
      }
      metrics.httpRequests.inc(labels)
      metrics.httpDuration.observe(labels, reply.elapsedTime / 1000)
    })
    app.addHook('onClose', async () => {
      await server.close()
    })
  },
  { name: 'palisade-metrics' }
)

import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import closeWithGrace from 'close-with-grace'
import type { TObject, TProperties, Static } from 'typebox'
import { ConfigError, loadConfig, type BaseConfig } from './config.js'
import { serverOptions } from './server-options.js'
import { initTracing, shutdownTracing } from './tracing/tracing.js'

export interface RunServerOptions<P extends TProperties> {
  service: string
  configSchema: TObject<P>
  app: FastifyPluginAsync<{ config: Static<TObject<P>> }>
  bodyLimit?: number
  /** see ServerOptionsInput.requestTimeoutMs */
  requestTimeoutMs?: number
}

/**
 * The whole of a service's `server.ts`: load and validate config (exit 1 with a clear message),
 * build, listen, and on SIGINT/SIGTERM stop accepting, drain HTTP, WebSockets and NATS, then exit.
 */
export async function runServer<P extends TProperties>(opts: RunServerOptions<P>): Promise<FastifyInstance> {
  let config: Static<TObject<P>> & BaseConfig
  try {
    config = loadConfig(opts.configSchema, process.env) as Static<TObject<P>> & BaseConfig
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${opts.service}: configuration error: ${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  initTracing({ service: opts.service, otlpEndpoint: (config as { OTEL_EXPORTER_OTLP_ENDPOINT?: string }).OTEL_EXPORTER_OTLP_ENDPOINT })
  const app = Fastify(
    serverOptions({
      service: opts.service,
      logLevel: config.LOG_LEVEL,
      ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
      ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {})
    })
  )
  try {
    await app.register(opts.app, { config })
  } catch (err) {
    // Settings that can only be judged together (e.g. TRUSTED_PROXIES in production) fail here.
    if (err instanceof ConfigError) {
      process.stderr.write(`${opts.service}: configuration error: ${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  closeWithGrace({ delay: config.SHUTDOWN_GRACE_SECONDS * 1000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
    await shutdownTracing()
  })
  await app.listen({ host: config.HOST, port: config.PORT })
  return app
}

import type { FastifyPluginAsync } from 'fastify'
import type { Static, TObject, TProperties } from 'typebox'
import { runServer } from '../run-server.js'

/**
 * A service's server with the outbox tests' fault hook: the process SIGKILLs itself right after the
 * COMMIT of its `<SERVICE>_CRASH_AT_COMMIT`-th transaction that wrote events (default the first),
 * before the relay publishes anything.
 */
export async function runServerCrashingAfterCommit<P extends TProperties>(
  service: string,
  configSchema: TObject<P>,
  serviceApp: FastifyPluginAsync<{ config: Static<TObject<P>> }>
): Promise<void> {
  const crashAt = Number(process.env[`${service.toUpperCase()}_CRASH_AT_COMMIT`] ?? 1)
  let commits = 0
  await runServer({
    service,
    configSchema,
    app: async (app, opts) => {
      await app.register(serviceApp, opts)
      app.outbox.afterCommit = () => {
        if (++commits === crashAt) process.kill(process.pid, 'SIGKILL')
      }
    }
  })
}

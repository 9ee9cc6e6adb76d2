import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { AgentsRunCancel, AuthSessionRevoked, ChatMembershipChanged } from '@palisade/contracts'
import { completeConfig, natsSubscribe, platformPlugin } from '@palisade/platform'
import { AgentsConfigSchema, type AgentsAppConfig, type AgentsConfig } from './config.js'
import './context.js'
import { ProviderRegistry } from './providers/registry.js'
import { agentRoutes } from './routes/agents.js'
import { runRoutes } from './routes/runs.js'
import { Runner } from './runs/runner.js'
import { RunStop } from './runs/stop.js'

export { AgentsConfigSchema, type AgentsAppConfig, type AgentsConfig }
export type { AgentsContext } from './context.js'

const migrationsFolder = fileURLToPath(new URL('../drizzle', import.meta.url))

const agentsApp: FastifyPluginAsync<{ config: AgentsAppConfig }> = async (app, opts) => {
  const config = completeConfig(AgentsConfigSchema, opts.config)
  // Provider configuration is checked first: a bad file fails the start before anything connects.
  const providers = new ProviderRegistry({
    providersJson: config.AGENTS_PROVIDERS,
    local: config.AGENTS_LOCAL_PROVIDER,
    localTokenDelayMs: config.AGENTS_LOCAL_TOKEN_DELAY_MS,
    defaultProvider: config.AGENTS_DEFAULT_PROVIDER
  })
  await app.register(platformPlugin, { service: 'agents', config, migrationsFolder })
  const runner = new Runner({ nats: app.nats, db: app.db, providers, config, log: app.log })
  app.decorate('agents', { config, providers, runner })

  natsSubscribe(app.nats, AuthSessionRevoked, (ev) => runner.revokeSessions(ev.sessionIds), { log: app.log })
  natsSubscribe(app.nats, AgentsRunCancel, (ev) => void runner.stopLocal(ev.runId, ev.userId, RunStop.cancelled()), { log: app.log })
  // No queue group: whichever instance executes a run in that conversation must hear it.
  natsSubscribe(app.nats, ChatMembershipChanged, (ev) => runner.membershipChanged(ev), { log: app.log })

  await app.register(agentRoutes, { prefix: '/api/agents' })
  await app.register(runRoutes, { prefix: '/api/agents' })

  app.addHook('onReady', async () => {
    await runner.startTimers()
  })
  // Before NATS drains and the pool closes: runs still going end as "interrupted", not orphaned.
  app.addHook('preClose', async () => {
    await runner.close(config.SHUTDOWN_GRACE_SECONDS * 500)
  })
}

export default fp(agentsApp, { name: 'palisade-agents' })

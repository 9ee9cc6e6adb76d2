import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { completeConfig, platformPlugin } from '@palisade/platform'
import { AgentsConfigSchema, type AgentsAppConfig, type AgentsConfig } from './config.js'
import './context.js'
import { serveAgentsNats } from './nats/handlers.js'
import { ProviderRegistry } from './providers/registry.js'
import { agentRoutes } from './routes/agents.js'
import { runRoutes } from './routes/runs.js'
import { McpRegistry } from './mcp/registry.js'
import { runMetrics } from './runs/metrics.js'
import { Runner } from './runs/runner.js'
import { AddressPolicy } from './web/address-policy.js'
import { WebFetcher } from './web/fetcher.js'

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
  const policy = new AddressPolicy(config.AGENTS_WEB_FETCH_HOSTS, config.AGENTS_WEB_FETCH_PRIVATE_RANGES)
  const web = policy.enabled
    ? new WebFetcher({ policy, maxBytes: config.AGENTS_WEB_FETCH_MAX_BYTES, timeoutMs: config.AGENTS_WEB_FETCH_TIMEOUT_MS })
    : undefined
  const mcp = new McpRegistry(config.AGENTS_MCP_SERVERS)
  await app.register(platformPlugin, { service: 'agents', config, migrationsFolder, outbox: true })
  const runner = new Runner({ nats: app.nats, db: app.db, outbox: app.outbox, providers, config, log: app.log, web, mcp, metrics: runMetrics(app.metrics) })
  app.decorate('agents', { config, providers, runner, mcp })

  const subs = serveAgentsNats(app, runner)

  await app.register(agentRoutes, { prefix: '/api/agents' })
  await app.register(runRoutes, { prefix: '/api/agents' })

  app.addHook('onReady', async () => {
    await runner.startTimers()
  })
  // Before NATS drains and the pool closes: runs still going end as "interrupted", not orphaned.
  app.addHook('preClose', async () => {
    await runner.close(config.SHUTDOWN_GRACE_SECONDS * 500)
    for (const sub of subs) sub.unsubscribe()
    await web?.close()
    await mcp.close()
  })
}

export default fp(agentsApp, { name: 'palisade-agents' })

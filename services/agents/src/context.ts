import type { AgentsConfig } from './config.js'
import type { ProviderRegistry } from './providers/registry.js'
import type { Runner } from './runs/runner.js'

export interface AgentsContext {
  config: AgentsConfig
  providers: ProviderRegistry
  runner: Runner
}

declare module 'fastify' {
  interface FastifyInstance {
    agents: AgentsContext
  }
}

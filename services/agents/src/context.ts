import type { AgentsConfig } from './config.js'
import type { McpRegistry } from './mcp/registry.js'
import type { ProviderRegistry } from './providers/registry.js'
import type { Runner } from './runs/runner.js'

export interface AgentsContext {
  config: AgentsConfig
  providers: ProviderRegistry
  runner: Runner
  mcp: McpRegistry
}

declare module 'fastify' {
  interface FastifyInstance {
    agents: AgentsContext
  }
}

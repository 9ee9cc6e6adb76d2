import type { AgentLimits, EffectiveLimits } from '@palisade/contracts'
import type { AgentsConfig } from './config.js'

/** An agent's limits, each capped by the operator's ceiling (an agent can only be stricter). */
export function effectiveLimits(agent: AgentLimits, config: AgentsConfig): EffectiveLimits {
  const cap = (own: number | undefined, ceiling: number) => Math.min(own ?? ceiling, ceiling)
  return {
    maxSteps: cap(agent.maxSteps, config.AGENTS_MAX_STEPS),
    maxToolCalls: cap(agent.maxToolCalls, config.AGENTS_MAX_TOOL_CALLS),
    callTimeoutMs: cap(agent.callTimeoutMs, config.AGENTS_CALL_TIMEOUT_MS),
    runTimeoutMs: cap(agent.runTimeoutMs, config.AGENTS_RUN_TIMEOUT_MS),
    maxOutputTokens: cap(agent.maxOutputTokens, config.AGENTS_MAX_OUTPUT_TOKENS)
  }
}

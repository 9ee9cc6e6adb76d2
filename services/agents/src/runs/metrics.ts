import type { Counter, ServiceMetrics } from '@palisade/platform'

export interface RunMetrics {
  /** outcome: completed, cancelled or failed */
  runs: Counter<'outcome'>
  /** kind: input or output */
  tokens: Counter<'kind'>
  /** tool: a tool of the run's toolbox (never a name the model made up); outcome: ok or error */
  toolCalls: Counter<'tool' | 'outcome'>
}

export function runMetrics(metrics: ServiceMetrics): RunMetrics {
  return {
    runs: metrics.counter({ name: 'agent_runs_total', help: 'Agent runs ended, by outcome', labelNames: ['outcome'] }),
    tokens: metrics.counter({ name: 'agent_tokens_total', help: 'Model tokens used by agent runs', labelNames: ['kind'] }),
    toolCalls: metrics.counter({ name: 'agent_tool_calls_total', help: 'Tool calls made by agent runs', labelNames: ['tool', 'outcome'] })
  }
}

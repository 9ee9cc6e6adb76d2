/** Messages as the orchestrator hands them to a provider (OpenAI chat shape, provider-neutral). */
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; name: string; content: string }

export interface ToolCall {
  id: string
  /** function name as the model saw it (e.g. `chat_history`) */
  name: string
  /** raw JSON text from the model; validated before anything runs */
  arguments: string
}

export interface ToolSpec {
  name: string
  description: string
  parameters: Record<string, unknown>
}

export interface ModelRequest {
  model: string
  messages: ChatMessage[]
  tools: ToolSpec[]
  maxTokens: number
  /** null: the provider's default */
  temperature: number | null
  /** aborts the call: run cancellation, run timeout or the per-call timeout */
  signal: AbortSignal
}

export type ModelEvent =
  | { type: 'text'; text: string }
  /** a fragment of a tool call being generated: counts as output, shown to nobody */
  | { type: 'tool_delta' }
  | { type: 'tool_call'; call: ToolCall }
  | { type: 'usage'; inputTokens: number; outputTokens: number }
  | { type: 'finish'; reason: string }

export interface Provider {
  readonly id: string
  readonly kind: 'local' | 'openai-compatible'
  readonly models: readonly string[]
  stream(req: ModelRequest): AsyncIterable<ModelEvent>
}

export type ProviderFailure = 'provider_error' | 'provider_unavailable'

/** A provider call that failed for a reason the run reports as is (never with secrets in it). */
export class ProviderError extends Error {
  override name = 'ProviderError'
  constructor(
    readonly reason: ProviderFailure,
    detail: string
  ) {
    super(detail)
  }
}

import type { ChatMessage, ModelEvent, ModelRequest, Provider, ToolCall } from './types.js'
import { ProviderError } from './types.js'
import { sseData, SseError } from './sse.js'

export interface OpenAiProviderOptions {
  id: string
  baseUrl: string
  models: string[]
  /** the provider's API key, read from a secret file by the registry */
  apiKey: string
}

const MAX_TOOL_CALLS_PER_RESPONSE = 16
const MAX_TOOL_ARGUMENT_CHARS = 16_384

interface ChunkToolCall {
  index?: number
  id?: string
  function?: { name?: string; arguments?: string }
}
interface Chunk {
  choices?: { delta?: { content?: string | null; tool_calls?: ChunkToolCall[] }; finish_reason?: string | null }[]
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null
  error?: unknown
}

function toWire(m: ChatMessage): Record<string, unknown> {
  switch (m.role) {
    case 'assistant':
      return {
        role: 'assistant',
        content: m.content || null,
        ...(m.toolCalls?.length
          ? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) }
          : {})
      }
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId, content: m.content }
    default:
      return { role: m.role, content: m.content }
  }
}

/**
 * A provider speaking the OpenAI chat-completions protocol with streaming (OpenAI, vLLM, Ollama,
 * LiteLLM, …). Its base URL comes from operator configuration only; redirects are refused so the
 * key is never sent anywhere else. The key lives in a private field: it cannot end up in a log
 * line or a JSON dump of the provider, and error messages never include response bodies, which
 * some providers use to echo part of the key back.
 */
export class OpenAiCompatibleProvider implements Provider {
  readonly kind = 'openai-compatible' as const
  readonly id: string
  readonly models: readonly string[]
  readonly #endpoint: string
  readonly #apiKey: string

  constructor(opts: OpenAiProviderOptions) {
    this.id = opts.id
    this.models = [...opts.models]
    this.#endpoint = `${opts.baseUrl.replace(/\/+$/, '')}/chat/completions`
    this.#apiKey = opts.apiKey
  }

  /** Removes the key from any text that came back from the provider or the network stack. */
  redact(text: string): string {
    return this.#apiKey ? text.split(this.#apiKey).join('[redacted]') : text
  }

  toJSON(): Record<string, unknown> {
    return { id: this.id, kind: this.kind, models: this.models }
  }

  async *stream(req: ModelRequest): AsyncIterable<ModelEvent> {
    const body = {
      model: req.model,
      messages: req.messages.map(toWire),
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: req.maxTokens,
      ...(req.temperature !== null ? { temperature: req.temperature } : {}),
      ...(req.tools.length > 0 ? { tools: req.tools.map((t) => ({ type: 'function', function: t })), tool_choice: 'auto', parallel_tool_calls: true } : {})
    }
    let res: Response
    try {
      res = await fetch(this.#endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.#apiKey}`, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(body),
        redirect: 'error',
        signal: req.signal
      })
    } catch (err) {
      if (req.signal.aborted) throw req.signal.reason
      const cause = (err as { cause?: { code?: string } }).cause?.code
      throw new ProviderError('provider_unavailable', `provider ${this.id} is unreachable${cause ? ` (${cause})` : ''}`)
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {})
      const what = res.status === 429 ? 'rate limited the request' : res.status === 401 || res.status === 403 ? 'rejected the credentials' : 'failed'
      throw new ProviderError(
        res.status >= 500 || res.status === 429 ? 'provider_unavailable' : 'provider_error',
        `provider ${this.id} ${what} (HTTP ${res.status})`
      )
    }
    if (!res.body) throw new ProviderError('provider_error', `provider ${this.id} sent no body`)
    if (!/^text\/event-stream/i.test(res.headers.get('content-type') ?? '')) {
      await res.body.cancel().catch(() => {})
      throw new ProviderError(
        'provider_error',
        `provider ${this.id} did not stream (content-type ${JSON.stringify((res.headers.get('content-type') ?? '').slice(0, 64))})`
      )
    }

    const calls = new Map<number, { id: string; name: string; arguments: string }>()
    let finish: string | undefined
    let done = false
    try {
      for await (const data of sseData(res.body as unknown as AsyncIterable<Uint8Array>)) {
        if (data === '[DONE]') {
          done = true
          break
        }
        let chunk: Chunk
        try {
          chunk = JSON.parse(data) as Chunk
        } catch {
          throw new ProviderError('provider_error', `provider ${this.id} sent a malformed stream event`)
        }
        if (chunk.error) throw new ProviderError('provider_error', `provider ${this.id} reported an error mid-stream`)
        if (chunk.usage && typeof chunk.usage === 'object') {
          yield { type: 'usage', inputTokens: Number(chunk.usage.prompt_tokens) || 0, outputTokens: Number(chunk.usage.completion_tokens) || 0 }
        }
        const choice = chunk.choices?.[0]
        if (!choice) continue
        const content = choice.delta?.content
        if (typeof content === 'string' && content.length > 0) yield { type: 'text', text: content }
        for (const tc of choice.delta?.tool_calls ?? []) {
          const index = typeof tc.index === 'number' ? tc.index : 0
          let acc = calls.get(index)
          if (!acc) {
            if (calls.size >= MAX_TOOL_CALLS_PER_RESPONSE)
              throw new ProviderError('provider_error', `provider ${this.id} asked for too many tool calls at once`)
            acc = { id: '', name: '', arguments: '' }
            calls.set(index, acc)
          }
          if (typeof tc.id === 'string') acc.id = tc.id.slice(0, 128)
          if (typeof tc.function?.name === 'string') acc.name += tc.function.name
          if (typeof tc.function?.arguments === 'string') acc.arguments += tc.function.arguments
          if (acc.arguments.length > MAX_TOOL_ARGUMENT_CHARS || acc.name.length > 128) {
            throw new ProviderError('provider_error', `provider ${this.id} sent an oversized tool call`)
          }
          yield { type: 'tool_delta' }
        }
        if (choice.finish_reason) finish = choice.finish_reason
      }
    } catch (err) {
      if (req.signal.aborted) throw req.signal.reason
      if (err instanceof ProviderError) throw err
      if (err instanceof SseError) throw new ProviderError('provider_error', `provider ${this.id}: ${err.message}`)
      throw new ProviderError('provider_unavailable', `provider ${this.id} stream broke off`)
    } finally {
      // Stops the HTTP stream when the consumer leaves early (cancel, limits).
      await res.body.cancel().catch(() => {})
    }
    if (!done && !finish) throw new ProviderError('provider_unavailable', `provider ${this.id} stream ended unexpectedly`)
    for (const [i, c] of [...calls.entries()].sort((a, b) => a[0] - b[0])) {
      const call: ToolCall = { id: c.id || `call_${i}`, name: c.name, arguments: c.arguments || '{}' }
      yield { type: 'tool_call', call }
    }
    yield { type: 'finish', reason: finish ?? 'stop' }
  }
}

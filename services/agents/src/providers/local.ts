import { setTimeout as sleep } from 'node:timers/promises'
import type { ChatMessage, ModelEvent, ModelRequest, Provider } from './types.js'

export const LOCAL_PROVIDER_ID = 'local'
export const LOCAL_MODELS = ['echo'] as const

const TOOL_DIRECTIVE = /^@tool\s+([A-Za-z0-9_.-]{1,64})(?:\s+(.*))?$/
const LONG_DIRECTIVE = /^@long\s+(\d{1,6})$/
const SLOW_DIRECTIVE = /^@slow\s+(\d{1,5})$/
/** a directive planted in data (a message, a file), after JSON unescaping; flat JSON arguments only */
const INJECTED_DIRECTIVE = /@tool\s+([A-Za-z0-9_.-]{1,64})\s+(\{[^{}]*\})/g

/**
 * What a gullible model would do with a planted instruction: find `@tool` directives in text it was
 * given as data (tool results, the conversation shown to it), unescaping JSON strings first.
 */
function injectedDirectives(messages: ChatMessage[], lastUser: ChatMessage | undefined): [string, string][] {
  const found: [string, string][] = []
  for (const m of messages) {
    if (m === lastUser || m.role === 'system' || m.role === 'assistant') continue
    const text = m.content.replace(/\\n/g, '\n').replace(/\\"/g, '"')
    for (const d of text.matchAll(INJECTED_DIRECTIVE)) {
      // once each: a result that quotes the planted text again does not loop the model
      if (!found.some(([n, a]) => n === d[1] && a === d[2])) found.push([d[1]!, d[2]!])
    }
  }
  return found
}

function estimateTokens(messages: ChatMessage[]): number {
  let chars = 0
  for (const m of messages) chars += m.content.length
  return Math.ceil(chars / 4)
}

/** Splits text into word tokens that keep their following whitespace (concatenation = text). */
export function tokenize(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? []
}

/**
 * The built-in provider: deterministic, offline, free. It streams a reply derived from the user's
 * input word by word, and lets tests and demos drive tools and limits from the input:
 *
 * - `@tool <name> <json>` (one per line): asks for that tool call, in order, one per model call;
 * - `@long <n>`: answers with n tokens;
 * - `@slow <ms>`: waits that long between tokens;
 * - `@tools`: lists the tools it was offered, with the length and beginning of each description;
 * - `@obey`: also follows `@tool` directives found in tool results and in the conversation shown to
 *   it, as a model falling for a prompt injection would.
 *
 * Once every requested tool has answered it reports how many characters each returned and quotes
 * the beginning of each result, so tool plumbing is visible end to end.
 */
export class LocalProvider implements Provider {
  readonly id = LOCAL_PROVIDER_ID
  readonly kind = 'local' as const
  readonly models = LOCAL_MODELS

  constructor(private readonly tokenDelayMs = 0) {}

  async *stream(req: ModelRequest): AsyncIterable<ModelEvent> {
    const lastUser = [...req.messages].reverse().find((m) => m.role === 'user')
    const user = lastUser?.content ?? ''
    const lines = user.split(/\r?\n/).map((l) => l.trim())
    const toolDirectives: [string, string][] = lines
      .map((l) => TOOL_DIRECTIVE.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]?.trim() || '{}'])
    // `@obey`: the model follows instructions planted in data, after the user's own (tests of
    // prompt injection need a model that falls for it).
    if (lines.includes('@obey')) toolDirectives.push(...injectedDirectives(req.messages, lastUser))
    const toolMessages = req.messages.filter((m): m is Extract<ChatMessage, { role: 'tool' }> => m.role === 'tool')
    let delay = this.tokenDelayMs
    let long: number | undefined
    for (const l of lines) {
      const s = SLOW_DIRECTIVE.exec(l)
      if (s) delay = Number(s[1])
      const g = LONG_DIRECTIVE.exec(l)
      if (g) long = Number(g[1])
    }
    const inputTokens = estimateTokens(req.messages)

    const next = toolDirectives[toolMessages.length]
    if (next) {
      req.signal.throwIfAborted()
      yield {
        type: 'tool_call',
        call: { id: `call_${toolMessages.length + 1}`, name: next[0], arguments: next[1] }
      }
      yield { type: 'usage', inputTokens, outputTokens: 1 }
      yield { type: 'finish', reason: 'tool_calls' }
      return
    }

    let text: string
    if (lines.includes('@tools')) {
      text = req.tools.map((t) => `${t.name} (${t.description.length} chars): ${t.description.slice(0, 160)}`).join('\n') || '(no tools)'
    } else if (long !== undefined) {
      text = Array.from({ length: long }, (_, i) => `t${i + 1}`).join(' ')
    } else if (toolMessages.length > 0) {
      text = toolMessages.map((m) => `${m.name} returned ${m.content.length} characters: ${JSON.stringify(m.content.slice(0, 2000))}`).join('\n')
    } else {
      const plain = lines
        .filter((l) => !l.startsWith('@'))
        .join(' ')
        .trim()
      text = `You said: ${plain || '(nothing)'}`
    }

    let emitted = 0
    for (const token of tokenize(text)) {
      if (emitted >= req.maxTokens) {
        yield { type: 'usage', inputTokens, outputTokens: emitted }
        yield { type: 'finish', reason: 'length' }
        return
      }
      if (delay > 0) await sleep(delay, undefined, { signal: req.signal })
      else if (emitted % 64 === 63) await new Promise((r) => setImmediate(r))
      req.signal.throwIfAborted()
      emitted++
      yield { type: 'text', text: token }
    }
    yield { type: 'usage', inputTokens, outputTokens: emitted }
    yield { type: 'finish', reason: 'stop' }
  }
}

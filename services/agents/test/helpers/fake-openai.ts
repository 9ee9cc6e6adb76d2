import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * A small OpenAI-compatible chat-completions server for tests: the stand-in for the paid LLM API
 * (and only for it). Each request takes the next scripted reply; the requests are recorded.
 */
export type Reply =
  /** streams these tokens (a string is split into words) */
  | { kind: 'text'; text: string | string[]; delayMs?: number; finish?: string; usage?: { prompt: number; completion: number } }
  /** streams tool calls (optionally after some text) */
  | { kind: 'tools'; calls: { name: string; arguments: string; id?: string }[]; text?: string }
  /** answers with an HTTP error status */
  | { kind: 'status'; status: number; body?: string }
  /** sends the SSE headers and then nothing until the client gives up */
  | { kind: 'hang' }
  /** sends a few tokens, then breaks the connection */
  | { kind: 'drop'; text: string }
  /** answers 200 with a JSON body (not a stream) */
  | { kind: 'json'; body: unknown }

export interface RecordedRequest {
  headers: IncomingMessage['headers']
  body: {
    model: string
    stream: boolean
    max_tokens?: number
    messages: { role: string; content: string | null; tool_calls?: unknown[]; tool_call_id?: string }[]
    tools?: { type: string; function: { name: string; description: string; parameters: unknown } }[]
  }
  /** set when the client closed the connection before the reply was complete */
  aborted: boolean
  /** set when the whole reply was written */
  completed: boolean
}

export interface FakeOpenAi {
  url: string
  requests: RecordedRequest[]
  /** replies for the next requests, in order; when empty, `fallback` answers */
  queue: Reply[]
  fallback: Reply | ((req: RecordedRequest) => Reply)
  close(): Promise<void>
  /** resolves when request number `n` (1-based) has ended one way or the other */
  ended(n: number): Promise<RecordedRequest>
}

function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-test', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
}

export async function startFakeOpenAi(): Promise<FakeOpenAi> {
  const requests: RecordedRequest[] = []
  const waiters = new Map<number, (r: RecordedRequest) => void>()
  const sockets = new Set<import('node:net').Socket>()
  const state: FakeOpenAi = {
    url: '',
    requests,
    queue: [],
    fallback: { kind: 'text', text: 'hello from the fake provider' },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
    },
    ended: (n) =>
      new Promise((resolve) => {
        const r = requests[n - 1]
        if (r && (r.aborted || r.completed)) return resolve(r)
        waiters.set(n, resolve)
      })
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = []
    for await (const p of req) parts.push(p as Buffer)
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404).end()
      return
    }
    const rec: RecordedRequest = { headers: req.headers, body: JSON.parse(Buffer.concat(parts).toString('utf8')), aborted: false, completed: false }
    requests.push(rec)
    const n = requests.length
    const settle = () => waiters.get(n)?.(rec)
    res.on('close', () => {
      if (!res.writableFinished) rec.aborted = true
      else rec.completed = true
      settle()
    })
    const reply = state.queue.shift() ?? (typeof state.fallback === 'function' ? state.fallback(rec) : state.fallback)
    const write = (s: string) => {
      if (!res.destroyed) res.write(s)
    }
    switch (reply.kind) {
      case 'status':
        res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body ?? JSON.stringify({ error: { message: 'scripted failure' } }))
        return
      case 'json':
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body))
        return
      case 'hang':
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.flushHeaders()
        return
      case 'drop':
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        write(chunk({ role: 'assistant', content: reply.text }))
        await sleep(5)
        res.socket?.destroy()
        return
      case 'text': {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
        const tokens = Array.isArray(reply.text) ? reply.text : (reply.text.match(/\S+\s*/g) ?? [])
        write(chunk({ role: 'assistant', content: '' }))
        for (const t of tokens) {
          if (res.destroyed) return
          if (reply.delayMs) await sleep(reply.delayMs)
          write(chunk({ content: t }))
        }
        write(chunk({}, reply.finish ?? 'stop'))
        const usage = reply.usage ?? { prompt: 10, completion: tokens.length }
        write(
          `data: ${JSON.stringify({ id: 'chatcmpl-test', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion } })}\n\n`
        )
        write('data: [DONE]\n\n')
        res.end()
        return
      }
      case 'tools': {
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        if (reply.text) write(chunk({ role: 'assistant', content: reply.text }))
        reply.calls.forEach((c, i) => {
          write(chunk({ tool_calls: [{ index: i, id: c.id ?? `call_${n}_${i}`, type: 'function', function: { name: c.name, arguments: '' } }] }))
          // arguments arrive in fragments, as real providers send them
          for (let k = 0; k < c.arguments.length; k += 7) write(chunk({ tool_calls: [{ index: i, function: { arguments: c.arguments.slice(k, k + 7) } }] }))
        })
        write(chunk({}, 'tool_calls'))
        write('data: [DONE]\n\n')
        res.end()
        return
      }
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy())
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  return state
}

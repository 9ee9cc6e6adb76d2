/**
 * Token stream stand-in for a paid LLM provider (OpenAI-compatible `POST /v1/chat/completions`,
 * streamed): answers every request with `r<request>t<index>` tokens, recording each token's write
 * time, so benches can point the agents service at it and time what reaches a socket. Shared by
 * the agents bench and the day scenario.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'

export interface TokenServer {
  /** base URL for AGENTS_PROVIDERS (`…/v1`) */
  url: string
  /** token → performance.now() when it was written */
  sent: Map<string, number>
  server: Server
  /** requests answered so far */
  requests(): number
}

/** `intervalMs` and `tokens` are asked at each request, so a bench may change them between rounds. */
export async function startTokenServer(intervalMs: () => number, tokens: () => number, opts: { record?: boolean } = {}): Promise<TokenServer> {
  const record = opts.record ?? true
  const sent = new Map<string, number>()
  let requests = 0
  const server = createServer(async (req, res) => {
    for await (const _ of req) void _
    const n = ++requests
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    const chunk = (delta: unknown, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'b', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`
    const count = tokens()
    const every = intervalMs()
    for (let i = 0; i < count && !res.destroyed; i++) {
      await sleep(every)
      const tok = `r${n}t${i} `
      if (record) sent.set(tok.trim(), performance.now())
      res.write(chunk({ content: tok }))
    }
    res.write(chunk({}, 'stop'))
    res.end('data: [DONE]\n\n')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, sent, server, requests: () => requests }
}

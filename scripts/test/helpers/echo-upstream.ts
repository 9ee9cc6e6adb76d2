import http from 'node:http'
import { WebSocketServer } from 'ws'

export interface EchoSeen {
  method: string
  url: string
  /** raw header pairs as received, names in the sender's spelling */
  rawHeaders: [string, string][]
  bodyBytes: number
}

/**
 * Test fixture standing in for an application service behind the edge: answers every request with
 * what it received (method, path, every header in its original spelling, body size) and, for a
 * WebSocket, sends the same report as its first message. `/slow` never answers (timeout tests).
 */
export async function startEchoUpstream(): Promise<{ url: string; port: number; hits: EchoSeen[]; active: () => number; close(): Promise<void> }> {
  const hits: EchoSeen[] = []
  // requests whose body is still arriving: what a slow client holds of the service
  let active = 0
  const pairs = (raw: string[]): [string, string][] => {
    const out: [string, string][] = []
    for (let i = 0; i < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!])
    return out
  }
  const server = http.createServer((req, res) => {
    let bodyBytes = 0
    active++
    let counted = true
    const settle = () => {
      if (counted) active--
      counted = false
    }
    req.once('close', settle)
    req.on('data', (c: Buffer) => (bodyBytes += c.length))
    req.on('end', () => {
      settle()
      const seen = { method: req.method ?? '', url: req.url ?? '', rawHeaders: pairs(req.rawHeaders), bodyBytes }
      hits.push(seen)
      if (req.url?.includes('/slow')) return
      const body = JSON.stringify(seen)
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-powered-by': 'echo' })
      res.end(body)
    })
  })
  const wss = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const seen = { method: req.method ?? '', url: req.url ?? '', rawHeaders: pairs(req.rawHeaders), bodyBytes: 0 }
      hits.push(seen)
      ws.send(JSON.stringify(seen))
      ws.on('message', (m) => ws.send(m.toString()))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    hits,
    active: () => active,
    async close() {
      for (const c of wss.clients) c.terminate()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  }
}

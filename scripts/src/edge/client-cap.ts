import type http from 'node:http'
import type { Socket } from 'node:net'
import { ErrorCode } from '@palisade/contracts'
import { ipLimitKey, plainAddress } from '@palisade/platform'
import { rawProblem } from './responses.js'

/** How long a refused connection may keep sending (read and discarded) before it is dropped. */
const REFUSAL_LINGER_MS = 1000

/**
 * Caps the connections one client address (an IPv6 /64) holds at once. The edge is the outermost
 * hop, so the client is the TCP peer. A connection over the cap never reaches the HTTP parser: it
 * gets a fixed 429 and is closed, so a flood of idle or dripping sockets from one address cannot
 * pile up behind it. Node's own `connection` listener is kept and called only for admitted sockets
 * (the server must keep listening itself: its header and request timeouts run only then).
 */
export function capConnectionsPerClient(server: http.Server, max: number, log?: (entry: Record<string, unknown>) => void): { open(key: string): number } {
  const open = new Map<string, number>()
  const refusal = rawProblem(429, ErrorCode.tooManyRequests, 'Too many connections from this address')
  const httpListeners = server.listeners('connection') as ((socket: Socket) => void)[]
  server.removeAllListeners('connection')
  server.on('connection', (socket: Socket) => {
    const key = ipLimitKey(plainAddress(socket.remoteAddress ?? ''))
    const count = open.get(key) ?? 0
    if (count >= max) {
      if (count === max) log?.({ level: 'warn', msg: 'connection cap reached', client: key, max })
      open.set(key, count + 1)
      socket.once('close', () => release(key))
      socket.on('error', () => socket.destroy())
      socket.end(refusal)
      socket.resume()
      setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref()
      return
    }
    open.set(key, count + 1)
    socket.once('close', () => release(key))
    for (const l of httpListeners) l.call(server, socket)
  })
  function release(key: string): void {
    const n = (open.get(key) ?? 1) - 1
    if (n <= 0) open.delete(key)
    else open.set(key, n)
  }
  return { open: (key) => open.get(key) ?? 0 }
}

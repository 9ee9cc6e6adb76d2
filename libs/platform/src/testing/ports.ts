import { readFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'

/** Ports below this are left to well-known services. */
const LOWEST_TEST_PORT = 10000

/**
 * The first port of the kernel's ephemeral range. Ports handed out for port-0 listeners and for the
 * local end of outgoing connections come from that range, so a port probed there and bound a few
 * seconds later may meanwhile have become some client's local port (CI saw EADDRINUSE that way).
 * Test ports are therefore chosen below it.
 */
function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)
    const n = Number(low)
    if (Number.isInteger(n) && n > LOWEST_TEST_PORT + 1000) return n
  } catch {
    // not Linux: use the kernel default below
  }
  return 32768
}

function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', () => resolve(false))
    srv.listen(port, host, () => srv.close(() => resolve(true)))
  })
}

/**
 * A base port whose next `count` ports (base+1 … base+count) are all free, below the ephemeral range.
 * Random, so that test files running in parallel rarely probe the same ports.
 */
export async function freePortBase(count: number, host = '127.0.0.1'): Promise<number> {
  const span = ephemeralRangeStart() - LOWEST_TEST_PORT - count - 1
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = LOWEST_TEST_PORT + Math.floor(Math.random() * span)
    const free = await Promise.all(Array.from({ length: count }, (_, i) => portIsFree(base + 1 + i, host)))
    if (free.every(Boolean)) return base
  }
  throw new Error(`no ${count} consecutive free ports found`)
}

/** One free port, below the ephemeral range (see `ephemeralRangeStart`). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return (await freePortBase(1, host)) + 1
}
export interface WaitForPortOptions {
  /** epoch ms after which to give up */
  deadline: number
  host?: string
  intervalMs?: number
  /** checked before every attempt: an Error stops the wait (the process that should listen died) */
  failure?: () => Error | undefined
  /** what should be listening, for the timeout message */
  what?: string
}

/** Resolves once something accepts TCP connections on host:port. */
export async function waitForPort(port: number, opts: WaitForPortOptions): Promise<void> {
  const host = opts.host ?? '127.0.0.1'
  while (Date.now() < opts.deadline) {
    const failed = opts.failure?.()
    if (failed) throw failed
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, host)
      s.once('connect', () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50))
  }
  throw new Error(`${opts.what ?? 'the server'} did not listen on ${port}`)
}

import { connect, createServer } from 'node:net'

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', () => resolve(false))
    srv.listen(port, host, () => srv.close(() => resolve(true)))
  })
}

/**
 * A base port whose next `count` ports (base+1 … base+count) are all free: for the launcher,
 * which puts each service at a fixed offset from PALISADE_SERVICE_PORT_BASE.
 */
export async function freePortBase(count: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000)
    const free = await Promise.all(Array.from({ length: count }, (_, i) => portIsFree(base + 1 + i, host)))
    if (free.every(Boolean)) return base
  }
  throw new Error(`no ${count} consecutive free ports found`)
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

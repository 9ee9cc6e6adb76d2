import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** What the launcher writes to <data dir>/stack.json in instances mode. */
export interface StackState {
  edgePort: number
  instances: Array<{ service: string; name: string; port: number; metricsPort: number; pid: number | null }>
  nats: Array<{ name: string; port: number; pid: number | null }>
}

export function readStackState(dataDir: string): StackState {
  return JSON.parse(readFileSync(join(dataDir, 'stack.json'), 'utf8')) as StackState
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** GET /readyz of one instance: its status and Retry-After (undefined when it does not answer). */
export async function readiness(port: number): Promise<{ status: number; retryAfter: string | null } | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(3000) })
    await r.arrayBuffer()
    return { status: r.status, retryAfter: r.headers.get('retry-after') }
  } catch {
    return undefined
  }
}

/** Waits until `check` is true; returns when it became so, or undefined at the deadline. */
export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return Date.now()
    await sleep(everyMs)
  }
  return undefined
}

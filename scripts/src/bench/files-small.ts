/**
 * The client side of `pnpm bench files`' small-upload rows: uploads as the web client sends them,
 * a conversation to send them to, and the CPU of the PostgreSQL backends serving files.
 */
import { randomUUID } from 'node:crypto'
import { request, type Agent, type IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import { procCpuUs, type ServiceProcess } from './service-process.js'

export function collect(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = ''
    res.setEncoding('utf8')
    res.on('data', (c: string) => (body += c))
    res.on('end', () => resolve(body))
    res.on('error', reject)
  })
}

/**
 * A small upload as the web client sends it (services/web/client/src/files.ts): the conversation's
 * id, then the file, in one multipart body over a kept-alive connection. Resolves with the time taken.
 */
export function uploadSmall(baseUrl: string, agent: Agent, headers: Record<string, string>, conversationId: string, bytes: Buffer): Promise<number> {
  const boundary = `----bench${randomUUID()}`
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="conversationId"\r\n\r\n${conversationId}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="notes.txt"\r\nContent-Type: text/plain\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`)
  ])
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const req = request(
      new URL('/api/files', baseUrl),
      { method: 'POST', agent, headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(body.length) } },
      async (res) => {
        const text = await collect(res)
        if (res.statusCode !== 201) return reject(new Error(`upload answered ${res.statusCode}: ${text.slice(0, 200)}`))
        resolve(performance.now() - t0)
      }
    )
    req.on('error', reject)
    req.end(body)
  })
}

export async function createConversation(chat: ServiceProcess, headers: Record<string, string>): Promise<string> {
  const res = await fetch(new URL('/api/chat/conversations', chat.url), {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'bench', memberIds: [] })
  })
  if (res.status !== 201) throw new Error(`creating a conversation answered ${res.status}: ${await res.text()}`)
  return ((await res.json()) as { id: string }).id
}

/** CPU time (µs) of the PostgreSQL backends serving the files service on `db`, by backend pid. */
export async function filesBackendsCpu(client: pg.Client): Promise<Map<number, number>> {
  const r = await client.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'files%' AND pid <> pg_backend_pid()"
  )
  const cpu = new Map<number, number>()
  for (const { pid } of r.rows) {
    try {
      cpu.set(pid, procCpuUs(pid))
    } catch {
      /* gone, or PostgreSQL runs elsewhere */
    }
  }
  return cpu
}

/** CPU the backends spent between two snapshots; a backend that appeared in between counts whole. */
export function backendsDelta(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0
  for (const [pid, us] of after) sum += us - (before.get(pid) ?? 0)
  return sum
}

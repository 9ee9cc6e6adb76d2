import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import WebSocket from 'ws'
import { buildService, baseUrl, type TestUser } from '@palisade/testkit'
import { startTestStack, type TestStack } from '../../helpers/stack.js'
import chatApp from '@palisade/chat'
import filesApp from '@palisade/files'
import gatewayApp from '@palisade/gateway'
import agentsApp, { type AgentsAppConfig } from '@palisade/agents'

export type Tap = { teardown(fn: () => unknown): void }

export interface StackOptions {
  agents?: Partial<AgentsAppConfig>
  /** also start files (for files.read) */
  files?: boolean
  /** also start the gateway, listening (for socket tests) */
  gateway?: boolean
  logStream?: NodeJS.WritableStream
}

export interface AgentsHarness {
  stack: TestStack
  agents: FastifyInstance
  chat: FastifyInstance
  files?: FastifyInstance
  gateway?: FastifyInstance
  config: AgentsAppConfig
  user(): Promise<TestUser>
  /** a request to a service as `user`, with identity headers from the real /auth/verify */
  call(app: FastifyInstance, user: TestUser, method: InjectOptions['method'], url: string, body?: unknown): Promise<LightMyRequestResponse>
  api(user: TestUser, method: InjectOptions['method'], url: string, body?: unknown): Promise<LightMyRequestResponse>
  conversation(owner: TestUser, members?: TestUser[]): Promise<string>
  say(user: TestUser, conversationId: string, text: string): Promise<{ id: string }>
  history(user: TestUser, conversationId: string): Promise<{ id: string; text: string; senderId: string; author: { kind: string; agentRunId?: string } }[]>
  upload(user: TestUser, name: string, text: string, conversationId?: string): Promise<string>
  createAgent(user: TestUser, body?: Record<string, unknown>): Promise<{ id: string }>
  startRun(user: TestUser, agentId: string, conversationId: string, input: string): Promise<LightMyRequestResponse>
  /** polls GET run until it is no longer running */
  waitRun(user: TestUser, agentId: string, runId: string, timeoutMs?: number): Promise<Record<string, any>>
  socket(user: TestUser): Promise<Socket>
}

export interface Socket {
  frames: Record<string, any>[]
  /** resolves with the first frame (already received or future) matching `pred` */
  next(pred: (f: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>
  close(): void
}

export async function startAgents(t: Tap, opts: StackOptions = {}): Promise<AgentsHarness> {
  const stack = await startTestStack(t)
  const chat = await buildService(t, chatApp, stack.config(), { service: 'chat' })
  let files: FastifyInstance | undefined
  if (opts.files) {
    const dir = await mkdtemp(join(tmpdir(), 'palisade-agents-files-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    files = await buildService(t, filesApp, { ...stack.config(), FILES_STORAGE_DIR: dir }, { service: 'files' })
  }
  const gateway = opts.gateway ? await buildService(t, gatewayApp, stack.config(), { service: 'gateway', listen: true }) : undefined
  const config: AgentsAppConfig = { ...stack.config(), ...opts.agents }
  const agents = await buildService(t, agentsApp, config, { service: 'agents', ...(opts.logStream ? { logStream: opts.logStream } : {}) })

  // Assertions are per (session, audience) and come with ≥ 15 s left: reuse one for 10 s at most.
  const cache = new Map<string, { at: number; headers: Promise<Record<string, string>> }>()
  function headersFor(user: TestUser, uri: string, method: string): Promise<Record<string, string>> {
    const key = `${user.sessionId}|${uri.split('/')[2]}`
    const hit = cache.get(key)
    if (hit && Date.now() - hit.at < 10_000) return hit.headers
    const headers = stack.identityHeaders(user, { method, uri }) as Promise<Record<string, string>>
    cache.set(key, { at: Date.now(), headers })
    return headers
  }

  async function call(app: FastifyInstance, user: TestUser, method: InjectOptions['method'], url: string, body?: unknown) {
    const headers = { ...(await headersFor(user, url, String(method))), 'x-request-id': `t-${randomBytes(4).toString('hex')}` }
    return app.inject({ method, url, headers, ...(body !== undefined ? { payload: body as InjectOptions['payload'] } : {}) })
  }

  const h: AgentsHarness = {
    stack,
    agents,
    chat,
    ...(files ? { files } : {}),
    ...(gateway ? { gateway } : {}),
    config,
    user: () => stack.createUser(),
    call,
    api: (user, method, url, body) => call(agents, user, method, url, body),
    async conversation(owner, members = []) {
      const res = await call(chat, owner, 'POST', '/api/chat/conversations', { title: 'agents test', memberIds: members.map((m) => m.userId) })
      if (res.statusCode !== 201) throw new Error(`create conversation: ${res.statusCode} ${res.body}`)
      return res.json().id as string
    },
    async say(user, conversationId, text) {
      const res = await call(chat, user, 'POST', `/api/chat/conversations/${conversationId}/messages`, { text, clientMessageId: randomUUID() })
      if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`send: ${res.statusCode} ${res.body}`)
      return res.json()
    },
    async history(user, conversationId) {
      const res = await call(chat, user, 'GET', `/api/chat/conversations/${conversationId}/messages`)
      if (res.statusCode !== 200) throw new Error(`history: ${res.statusCode} ${res.body}`)
      return res.json().items
    },
    async upload(user, name, text, conversationId) {
      const boundary = `----agents${randomBytes(8).toString('hex')}`
      const parts: Buffer[] = []
      if (conversationId) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="conversationId"\r\n\r\n${conversationId}\r\n`))
      parts.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n${text}\r\n--${boundary}--\r\n`
        )
      )
      const payload = Buffer.concat(parts)
      const headers = { ...(await headersFor(user, '/api/files', 'POST')), 'content-type': `multipart/form-data; boundary=${boundary}` }
      const res = await files!.inject({ method: 'POST', url: '/api/files', headers, payload })
      if (res.statusCode !== 201) throw new Error(`upload: ${res.statusCode} ${res.body}`)
      return res.json().id as string
    },
    async createAgent(user, body = {}) {
      const res = await call(agents, user, 'POST', '/api/agents', { name: 'helper', instructions: 'Be brief.', ...body })
      if (res.statusCode !== 201) throw new Error(`create agent: ${res.statusCode} ${res.body}`)
      return res.json()
    },
    startRun: (user, agentId, conversationId, input) => call(agents, user, 'POST', `/api/agents/${agentId}/runs`, { conversationId, input }),
    async waitRun(user, agentId, runId, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const res = await call(agents, user, 'GET', `/api/agents/${agentId}/runs/${runId}`)
        const run = res.json()
        if (run.status !== 'running') return run
        if (Date.now() > deadline) throw new Error(`run ${runId} still running after ${timeoutMs} ms`)
        await new Promise((r) => setTimeout(r, 25))
      }
    },
    async socket(user) {
      if (!gateway) throw new Error('gateway not started')
      const headers = await stack.identityHeaders(user, { uri: '/ws' })
      const ws = new WebSocket(`${baseUrl(gateway).replace('http', 'ws')}/ws`, { headers })
      const frames: Record<string, any>[] = []
      const waiters: { pred: (f: Record<string, any>) => boolean; resolve: (f: Record<string, any>) => void }[] = []
      ws.on('message', (data) => {
        const f = JSON.parse(String(data)) as Record<string, any>
        frames.push(f)
        for (const w of [...waiters]) {
          if (w.pred(f)) {
            waiters.splice(waiters.indexOf(w), 1)
            w.resolve(f)
          }
        }
      })
      await new Promise<void>((resolve, reject) => {
        ws.once('error', reject)
        ws.once('unexpected-response', (_req, res) => reject(new Error(`ws handshake ${res.statusCode}`)))
        const hello = (data: WebSocket.RawData) => {
          if (JSON.parse(String(data)).type === 'hello') {
            ws.off('message', hello)
            resolve()
          }
        }
        ws.on('message', hello)
      })
      // The gateway closes a socket when its identity lease (the assertion's expiry, ≥ 15 s away)
      // runs out unless renewed with a plain GET /ws, as clients do.
      const renew = setInterval(() => {
        void stack
          .identityHeaders(user, { uri: '/ws' })
          .then((h) => gateway.inject({ method: 'GET', url: '/ws', headers: h }))
          .catch(() => {})
      }, 5_000)
      ws.on('close', () => clearInterval(renew))
      t.teardown(() => {
        clearInterval(renew)
        ws.close()
      })
      return {
        frames,
        next(pred, timeoutMs = 10_000) {
          const seen = frames.find(pred)
          if (seen) return Promise.resolve(seen)
          return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no matching frame')), timeoutMs)
            waiters.push({
              pred,
              resolve: (f) => {
                clearTimeout(timer)
                resolve(f)
              }
            })
          })
        },
        close: () => ws.close()
      }
    }
  }
  return h
}

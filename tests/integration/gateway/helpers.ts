import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { AuthConfig } from '@palisade/auth'
import { baseUrl, buildService, type TestUser, type TeardownHost } from '@palisade/testkit'
import { startTestStack, type TestStack } from '../helpers/stack.js'
import chatApp from '@palisade/chat'
import gatewayApp, { type GatewayAppConfig } from '@palisade/gateway'

export type Frame = Record<string, unknown> & { type: string }

/** A WebSocket client that records every frame and how it closed. */
export class Client {
  readonly frames: Frame[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  private waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }> = []

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return
      const f = JSON.parse(data.toString()) as Frame
      this.frames.push(f)
      for (const w of [...this.waiters]) {
        if (w.pred(f)) {
          this.waiters.splice(this.waiters.indexOf(w), 1)
          w.resolve(f)
        }
      }
    })
    ws.on('error', () => {})
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  waitFor(pred: (f: Frame) => boolean, ms = 3000): Promise<Frame> {
    const found = this.frames.find(pred)
    if (found) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`frame not received within ${ms} ms; got ${JSON.stringify(this.frames.map((f) => f.type))}`)), ms)
      this.waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(timer)
          resolve(f)
        }
      })
    })
  }

  type(type: string, ms?: number): Promise<Frame> {
    return this.waitFor((f) => f.type === type, ms)
  }

  /** resolves with the close, or rejects when the socket is still open after `ms` */
  closedWithin(ms: number): Promise<{ code: number; reason: string }> {
    return Promise.race([this.closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms))])
  }

  close(): void {
    this.ws.close()
  }
}

export interface GatewayHarness {
  stack: TestStack
  chat: FastifyInstance
  gateways: FastifyInstance[]
  gw: FastifyInstance
  nc: NatsConnection
  wsHeaders(user: TestUser, extra?: Record<string, string>): Promise<Record<string, string>>
  /** a real TCP WebSocket to gateway `index` */
  connect(user: TestUser, opts?: { index?: number; headers?: Record<string, string>; autoPong?: boolean; from?: string }): Promise<Client>
  /** a handshake that is expected to fail: its HTTP status (`from`: the socket's local address) */
  refused(headers: Record<string, string>, index?: number, from?: string): Promise<number>
  createConversation(owner: TestUser, title: string, members?: TestUser[]): Promise<{ id: string }>
}

export interface HarnessOptions {
  gateway?: Partial<GatewayAppConfig>
  auth?: Partial<AuthConfig>
  /** further gateway instances, each with its own overrides (on top of `gateway`) */
  more?: Array<Partial<GatewayAppConfig>>
  /** every service's NATS_URL (default: a private nats-server) */
  natsUrl?: string
}

export async function gatewayHarness(t: TeardownHost, opts: HarnessOptions = {}): Promise<GatewayHarness> {
  const stack = await startTestStack(t, { ...(opts.auth ? { auth: opts.auth } : {}), ...(opts.natsUrl ? { natsUrl: opts.natsUrl } : {}) })
  const chat = await buildService(t, chatApp, stack.config(), { service: 'chat' })
  const gateways: FastifyInstance[] = []
  for (const extra of [{}, ...(opts.more ?? [])]) {
    const config = stack.config({ ...opts.gateway, ...extra } as Record<string, unknown>) as GatewayAppConfig
    gateways.push(await buildService(t, gatewayApp, config, { service: 'gateway', listen: true }))
  }
  const nc = await connect({ servers: stack.natsUrl })
  t.teardown(() => nc.close())
  const h: GatewayHarness = {
    stack,
    chat,
    gateways,
    gw: gateways[0]!,
    nc,
    async wsHeaders(user, extra = {}) {
      return { ...(await stack.identityHeaders(user, { method: 'GET', uri: '/ws' })), ...extra }
    },
    async connect(user, o = {}) {
      const headers = o.headers ?? (await h.wsHeaders(user))
      const url = `${baseUrl(gateways[o.index ?? 0]!).replace('http', 'ws')}/ws`
      const ws = new WebSocket(url, { headers, ...(o.autoPong === false ? { autoPong: false } : {}), ...(o.from ? { localAddress: o.from } : {}) })
      const client = new Client(ws)
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)))
        ws.once('error', reject)
      })
      t.teardown(() => ws.terminate())
      await client.type('hello')
      return client
    },
    async refused(headers, index = 0, from) {
      const url = `${baseUrl(gateways[index]!).replace('http', 'ws')}/ws`
      const ws = new WebSocket(url, { headers, ...(from ? { localAddress: from } : {}) })
      return new Promise<number>((resolve, reject) => {
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0)
          ws.terminate()
        })
        ws.once('open', () => {
          ws.terminate()
          reject(new Error('handshake unexpectedly succeeded'))
        })
        ws.once('error', () => {})
      })
    },
    async createConversation(owner, title, members = []) {
      const headers = await stack.identityHeaders(owner, { method: 'POST', uri: '/api/chat/conversations' })
      const res = await chat.inject({ method: 'POST', url: '/api/chat/conversations', headers, payload: { title, memberIds: members.map((m) => m.userId) } })
      if (res.statusCode !== 201) throw new Error(`create conversation: ${res.statusCode} ${res.body}`)
      return res.json()
    }
  }
  return h
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

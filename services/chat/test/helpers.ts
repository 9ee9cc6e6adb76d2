import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { NATS_HEADERS, type Conversation, type Message } from '@palisade/contracts'
import { startTestStack, buildService, type TestStack, type TestUser, type TeardownHost } from '@palisade/testkit'
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node'
import chatApp, { type ChatAppConfig } from '../src/app.js'

export interface ChatHarness {
  stack: TestStack
  app: FastifyInstance
  /** a request as `user`, with identity headers from the real /auth/verify */
  as(user: TestUser, method: string, url: string, body?: unknown): Promise<LightMyRequestResponse>
  createConversation(owner: TestUser, title: string, members?: TestUser[]): Promise<Conversation>
  send(user: TestUser, conversationId: string, text: string, clientMessageId?: string): Promise<Message>
  /** a NATS connection of the test itself (a trusted peer: other services' role) */
  nc: NatsConnection
}

let counter = 0

/**
 * `beforeStart` runs once the database and auth are up and before chat starts (and migrates); what
 * it returns is added to chat's configuration (e.g. a DATABASE_URL of chat's own role).
 */
export async function chatHarness(
  t: TeardownHost,
  overrides: Partial<ChatAppConfig> = {},
  beforeStart?: (stack: TestStack) => Promise<Partial<ChatAppConfig>>
): Promise<ChatHarness> {
  const stack = await startTestStack(t)
  const more = beforeStart ? await beforeStart(stack) : {}
  const app = await buildService(t, chatApp, stack.config({ ...overrides, ...more } as Record<string, unknown>) as ChatAppConfig)
  const nc = await connect({ servers: stack.natsUrl })
  t.teardown(() => nc.close())
  const h: ChatHarness = {
    stack,
    app,
    nc,
    async as(user, method, url, body) {
      const headers = await stack.identityHeaders(user, { method, uri: url })
      return app.inject({ method: method as 'GET', url, headers, ...(body === undefined ? {} : { payload: body as object }) })
    },
    async createConversation(owner, title, members = []) {
      const res = await h.as(owner, 'POST', '/api/chat/conversations', { title, memberIds: members.map((m) => m.userId) })
      if (res.statusCode !== 201) throw new Error(`create conversation: ${res.statusCode} ${res.body}`)
      return res.json()
    },
    async send(user, conversationId, text, clientMessageId = `c${++counter}`) {
      const res = await h.as(user, 'POST', `/api/chat/conversations/${conversationId}/messages`, { text, clientMessageId })
      if (res.statusCode !== 201) throw new Error(`send: ${res.statusCode} ${res.body}`)
      return res.json()
    }
  }
  return h
}

/** NATS headers naming the acting user, as a calling service sets them. */
export function acting(userId: string, sessionId?: string) {
  const h = natsHeaders()
  h.set(NATS_HEADERS.actingUser, userId)
  if (sessionId) h.set(NATS_HEADERS.actingSession, sessionId)
  return h
}

/** Collects the events published to `events.user.<userId>`. */
export function collectEvents(
  nc: NatsConnection,
  userId: string
): { events: Array<Record<string, unknown>>; waitFor(pred: (e: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>> } {
  const events: Array<Record<string, unknown>> = []
  const waiters: Array<{ pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = []
  nc.subscribe(`events.user.${userId}`, {
    callback: (_err, msg) => {
      const e = msg.json<Record<string, unknown>>()
      events.push(e)
      for (const w of [...waiters])
        if (w.pred(e)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(e)
        }
    }
  })
  return {
    events,
    waitFor(pred, ms = 3000) {
      const found = events.find(pred)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('event not received')), ms)
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(timer)
            resolve(e)
          }
        })
      })
    }
  }
}

/** A multipart/form-data body (file uploads to the files service). */
export function multipart(parts: Array<{ name: string; value: string } | { name: string; filename: string; data: Buffer; contentType: string }>): {
  payload: Buffer
  headers: Record<string, string>
} {
  const boundary = `----chat${Math.random().toString(16).slice(2)}`
  const chunks: Buffer[] = []
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n`))
    if ('value' in p) chunks.push(Buffer.from(`Content-Disposition: form-data; name="${p.name}"\r\n\r\n${p.value}\r\n`))
    else {
      chunks.push(
        Buffer.from(`Content-Disposition: form-data; name="${p.name}"; filename="${p.filename}"\r\nContent-Type: ${p.contentType}\r\n\r\n`),
        p.data,
        Buffer.from('\r\n')
      )
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  const payload = Buffer.concat(chunks)
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(payload.length) } }
}

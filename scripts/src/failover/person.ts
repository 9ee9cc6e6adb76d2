import http from 'node:http'
import { randomUUID } from 'node:crypto'
import WebSocket from 'ws'
import type { Ledger } from './ledger.js'
import { request } from './http.js'

/** The web client's outbox timing (services/web/client/src/outbox.ts) and socket back-off (realtime.ts). */
const ACK_TIMEOUT_MS = 5000
const HTTP_RETRY_MS = 1000
/** a send not confirmed within this is given up (and reported) */
const SEND_DEADLINE_MS = 90_000
const backoffDelay = (attempt: number) => {
  const base = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6))
  return Math.round(base / 2 + Math.random() * (base / 2))
}
const CATCH_UP_PAGES = 20
/** error frame codes after which the client tries again over HTTP instead of giving up */
const RETRYABLE_CODES = new Set(['SERVICE_UNAVAILABLE', 'TIMEOUT', 'INTERNAL', 'BAD_GATEWAY', 'TOO_MANY_REQUESTS'])

interface MessageJson {
  id: string
  conversationId: string
  clientMessageId: string
}

export interface PersonInit {
  id: string
  address: string
  cookie: string
  conversations: string[]
}

/**
 * One simulated person, behaving as the web client does: one WebSocket through the edge that
 * reconnects with the client's back-off and, after every hello but the first, catches up over HTTP;
 * messages sent as `message.send` frames with a clientMessageId, repeated over HTTP with the same id
 * when no ack comes within 5 s or the socket is down, and again after a failure.
 */
export class Person {
  private ws: WebSocket | undefined
  private attempt = 0
  private greetedOnce = false
  private stopped = false
  private sendTimer: NodeJS.Timeout | undefined
  private reconnectTimer: NodeJS.Timeout | undefined
  private leaseTimer: NodeJS.Timeout | undefined
  private readonly pending = new Map<string, { frameId: string; timer?: NodeJS.Timeout }>()
  private readonly known = new Set<string>()
  private readonly agent: http.Agent
  /** resolves at the first hello */
  readonly ready: Promise<void>
  private markReady!: () => void
  /** socket closes by code (4001 = revoked) */
  readonly closes: Array<{ code: number; at: number }> = []
  private seq = 0

  constructor(
    readonly init: PersonInit,
    private readonly base: string,
    private readonly origin: string,
    private readonly ledger: Ledger,
    /** a closed socket is opened again (false: the person is gone, e.g. signed out) */
    private reconnect = true
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 2, localAddress: init.address })
    this.ready = new Promise((r) => (this.markReady = r))
  }

  get id(): string {
    return this.init.id
  }

  get online(): boolean {
    return this.ws?.readyState === WebSocket.OPEN
  }

  connect(): void {
    if (this.stopped) return
    const ws = new WebSocket(`${this.base.replace(/^http/, 'ws')}/ws`, {
      headers: { cookie: this.init.cookie, origin: this.origin },
      localAddress: this.init.address,
      perMessageDeflate: false
    })
    this.ws = ws
    ws.on('message', (data) => this.onFrame(String(data)))
    ws.on('unexpected-response', (_req, res) => {
      this.ledger.note(`handshake answered ${res.statusCode}`)
      res.resume()
      ws.terminate()
    })
    ws.on('error', () => {})
    ws.on('close', (code) => {
      this.closes.push({ code, at: Date.now() })
      if (this.ws === ws) this.ws = undefined
      if (code !== 1000 && code !== 1005) this.ledger.note(`socket closed ${code}`)
      if (this.stopped || !this.reconnect || code === 4001) return
      // Sends that were waiting for an ack go over HTTP now, as the client's timer would do later.
      this.reconnectTimer = setTimeout(() => this.connect(), backoffDelay(this.attempt++))
    })
  }

  private onFrame(text: string): void {
    let frame: { type: string; ref?: string | null; code?: string; message?: MessageJson; created?: boolean; expiresAt?: string }
    try {
      frame = JSON.parse(text)
    } catch {
      return
    }
    if (frame.type === 'hello') {
      this.attempt = 0
      this.keepLease(frame.expiresAt!)
      if (this.greetedOnce) void this.catchUp()
      this.greetedOnce = true
      this.markReady()
      this.flush()
    } else if (frame.type === 'message.created' && frame.message) {
      this.seen(frame.message, 'socket')
    } else if (frame.type === 'ack' && frame.message) {
      this.confirmed(frame.message)
    } else if (frame.type === 'error' && frame.ref) {
      const cid = [...this.pending].find(([, p]) => p.frameId === frame.ref)?.[0]
      this.ledger.note(`error frame ${frame.code}`)
      if (!cid) return
      if (RETRYABLE_CODES.has(frame.code ?? '')) void this.sendOverHttp(cid)
      else this.giveUp(cid, `refused: ${frame.code}`)
    }
  }

  /** The client renews its socket's identity lease (GET /ws) before it ends, as realtime.ts does. */
  private keepLease(expiresAt: string): void {
    clearTimeout(this.leaseTimer)
    const delay = Math.max(1000, Date.parse(expiresAt) - Date.now() - 15_000)
    this.leaseTimer = setTimeout(async () => {
      if (!this.online || this.stopped) return
      try {
        const res = await request(this.base, 'GET', '/ws', this.http())
        if (res.status !== 200) return this.ledger.note(`lease renewal answered ${res.status}`)
        this.keepLease((JSON.parse(res.body) as { expiresAt: string }).expiresAt)
      } catch (err) {
        this.ledger.note(`lease renewal: ${(err as Error).message}`)
      }
    }, delay)
  }

  private seen(m: MessageJson, via: 'socket' | 'catch-up'): void {
    this.known.add(m.id)
    this.ledger.arrive(this.id, m.id, Date.now(), via)
  }

  private confirmed(m: MessageJson): void {
    const rec = this.ledger.sends.get(m.clientMessageId)
    const p = this.pending.get(m.clientMessageId)
    if (!rec || !p) return
    clearTimeout(p.timer)
    this.pending.delete(m.clientMessageId)
    rec.ackedAt = Date.now()
    rec.messageId = m.id
  }

  private giveUp(cid: string, reason: string): void {
    const p = this.pending.get(cid)
    clearTimeout(p?.timer)
    this.pending.delete(cid)
    const rec = this.ledger.sends.get(cid)
    if (rec) rec.failed = reason
  }

  /** What the socket missed: newest pages of each conversation back to a message already seen. */
  private async catchUp(): Promise<void> {
    for (const conversationId of this.init.conversations) {
      let before: string | null = null
      for (let page = 0; page < CATCH_UP_PAGES; page++) {
        const q: string = before ? `&before=${encodeURIComponent(before)}` : ''
        let items: MessageJson[]
        let next: string | null
        try {
          const res = await request(this.base, 'GET', `/api/chat/conversations/${conversationId}/messages?limit=100${q}`, this.http())
          if (res.status !== 200) {
            this.ledger.note(`catch-up answered ${res.status}`)
            break
          }
          ;({ items, nextCursor: next } = JSON.parse(res.body) as { items: MessageJson[]; nextCursor: string | null })
        } catch (err) {
          this.ledger.note(`catch-up: ${(err as Error).message}`)
          break
        }
        const reached = items.some((m) => this.known.has(m.id))
        for (const m of items) if (!this.known.has(m.id)) this.seen(m, 'catch-up')
        if (reached || !next) break
        before = next
      }
    }
  }

  private http() {
    return { address: this.init.address, cookie: this.init.cookie, origin: this.origin, agent: this.agent }
  }

  /** Sends a message every 0.5–1 s until stopped. */
  startSending(): void {
    const tick = () => {
      if (this.stopped) return
      this.send()
      this.sendTimer = setTimeout(tick, 500 + Math.random() * 500)
    }
    this.sendTimer = setTimeout(tick, Math.random() * 1000)
  }

  stopSending(): void {
    clearTimeout(this.sendTimer)
    this.sendTimer = undefined
  }

  send(): void {
    const conversationId = this.init.conversations[this.seq % this.init.conversations.length]!
    const clientMessageId = `fo-${this.id.slice(0, 8)}-${++this.seq}-${randomUUID().slice(0, 8)}`
    this.ledger.sends.set(clientMessageId, {
      clientMessageId,
      personId: this.id,
      conversationId,
      sentAt: Date.now(),
      socketAttempts: 0,
      httpAttempts: 0
    })
    this.pending.set(clientMessageId, { frameId: clientMessageId })
    this.attemptSend(clientMessageId)
  }

  private attemptSend(cid: string): void {
    const rec = this.ledger.sends.get(cid)!
    const p = this.pending.get(cid)
    if (!p) return
    if (Date.now() - rec.sentAt > SEND_DEADLINE_MS) return this.giveUp(cid, 'no confirmation within the send deadline')
    if (this.online) {
      rec.socketAttempts++
      this.ws!.send(JSON.stringify({ type: 'message.send', id: cid, conversationId: rec.conversationId, text: `failover ${cid}`, clientMessageId: cid }))
      clearTimeout(p.timer)
      p.timer = setTimeout(() => void this.sendOverHttp(cid), ACK_TIMEOUT_MS)
    } else void this.sendOverHttp(cid)
  }

  private async sendOverHttp(cid: string): Promise<void> {
    const rec = this.ledger.sends.get(cid)
    const p = this.pending.get(cid)
    if (!rec || !p) return
    clearTimeout(p.timer)
    rec.httpAttempts++
    try {
      const res = await request(this.base, 'POST', `/api/chat/conversations/${rec.conversationId}/messages`, {
        ...this.http(),
        json: { text: `failover ${cid}`, clientMessageId: cid }
      })
      if (res.status === 200 || res.status === 201) return this.confirmed(JSON.parse(res.body) as MessageJson)
      this.ledger.note(`POST message answered ${res.status}`)
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) return this.giveUp(cid, `refused: ${res.status}`)
    } catch (err) {
      this.ledger.note(`POST message: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    if (!this.pending.has(cid)) return
    p.timer = setTimeout(() => this.attemptSend(cid), HTTP_RETRY_MS)
  }

  /** Connected again: what is waiting goes out (the client's flushOutbox). */
  private flush(): void {
    for (const cid of this.pending.keys()) {
      const p = this.pending.get(cid)!
      if (!p.timer) this.attemptSend(cid)
    }
  }

  get unconfirmed(): number {
    return this.pending.size
  }

  /** Stops reconnecting (the session is about to be revoked, or the run is over). */
  settle(): void {
    this.reconnect = false
  }

  close(): void {
    this.stopped = true
    this.stopSending()
    clearTimeout(this.reconnectTimer)
    clearTimeout(this.leaseTimer)
    for (const p of this.pending.values()) clearTimeout(p.timer)
    this.ws?.close(1000)
    this.agent.destroy()
  }
}

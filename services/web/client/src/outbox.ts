/**
 * The outbox: every own message is pending until the server confirms it, and nothing typed is lost.
 * A send goes over the socket (HTTP when no ack comes within 5 s, or when the socket is down); offline
 * it waits, and goes out when the connection is back. Every attempt carries the same
 * `clientMessageId`, so chat answers a repeat with the stored message instead of a double. A refusal
 * (4xx) keeps the message with the server's reason, for Retry or Discard; a passing failure (the
 * service unavailable or slow, too many requests) waits and is tried again on a timer. The outbox
 * is kept in sessionStorage, so a reload of the tab keeps it too.
 */
import type { ErrorCodeValue, Message } from '@palisade/contracts'
import { api, ApiError, SignedOutError } from './api.js'
import { realtime } from './connection.js'
import { readSession, writeSession } from './session-store.js'
import {
  addPending,
  batch,
  dropPending,
  getMe,
  getPending,
  pendingSends,
  putMessages,
  setPendingState,
  subscribe,
  type MessageRefs,
  type PendingSend
} from './store.js'
import { newId } from './ui.js'

const KEY = 'outbox'
const ACK_TIMEOUT_MS = 5000
const RETRY_FIRST_MS = 1000
const RETRY_MAX_MS = 30_000

/** What the gateway or chat say while a dependency is away: worth trying again without asking anyone. */
// Literals checked against the contracts' type: a value import would bring TypeBox into the bundle.
const TRANSIENT_CODES: ReadonlySet<string> = new Set<ErrorCodeValue>(['SERVICE_UNAVAILABLE', 'TIMEOUT', 'TOO_MANY_REQUESTS', 'BAD_GATEWAY'])

/** Attempts after a passing failure, per message: the delay doubles up to RETRY_MAX_MS. */
const retries = new Map<string, { count: number; timer: ReturnType<typeof setTimeout> }>()

const online = (): boolean => navigator.onLine !== false

export function queueSend(conversationId: string, text: string, attachments: string[], refs: MessageRefs = {}): void {
  const clientMessageId = newId()
  addPending(clientMessageId, { conversationId, text, attachments, state: 'sending', ...(Object.keys(refs).length ? { refs } : {}) })
  attempt(clientMessageId)
}

function attempt(clientMessageId: string): void {
  const p = getPending(clientMessageId)
  if (!p) return
  clearTimeout(retries.get(clientMessageId)?.timer)
  if (!online()) return setPendingState(clientMessageId, 'waiting')
  setPendingState(clientMessageId, 'sending')
  const { conversationId, text, attachments } = p
  const frame = {
    type: 'message.send' as const,
    id: clientMessageId,
    conversationId,
    text,
    clientMessageId,
    ...(attachments.length ? { attachments } : {}),
    ...p.refs
  }
  if (realtime.send(frame)) {
    // No ack (the socket dropped meanwhile): the same clientMessageId over HTTP cannot double it.
    setTimeout(() => {
      if (getPending(clientMessageId)?.state === 'sending') void sendOverHttp(clientMessageId)
    }, ACK_TIMEOUT_MS)
  } else void sendOverHttp(clientMessageId)
}

async function sendOverHttp(clientMessageId: string): Promise<void> {
  const p = getPending(clientMessageId)
  if (!p) return
  if (!online()) return setPendingState(clientMessageId, 'waiting')
  try {
    const m = await api<Message>('POST', `/api/chat/conversations/${p.conversationId}/messages`, {
      text: p.text,
      clientMessageId,
      ...(p.attachments.length ? { attachments: p.attachments } : {}),
      ...p.refs
    })
    retries.delete(clientMessageId)
    batch(() => {
      dropPending(clientMessageId)
      putMessages([m])
    })
  } catch (err) {
    if (err instanceof SignedOutError) return
    // A refusal is final until the person decides; anything else (network, 5xx, 408, 429) waits.
    if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429)
      setPendingState(clientMessageId, 'failed', err.message)
    else retryLater(clientMessageId, err instanceof ApiError ? err.retryAfterSeconds : undefined)
  }
}

/**
 * Waits, then tries again: a reconnect retries sooner (flushOutbox), but with the socket up nothing
 * else would, and a message refused during a database restart would wait for the person.
 */
function retryLater(clientMessageId: string, retryAfterSeconds?: number): void {
  setPendingState(clientMessageId, 'waiting', 'the server is busy, trying again')
  const count = (retries.get(clientMessageId)?.count ?? 0) + 1
  const backoff = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (count - 1))
  const delay = Math.min(RETRY_MAX_MS, Math.max(backoff, (retryAfterSeconds ?? 0) * 1000))
  clearTimeout(retries.get(clientMessageId)?.timer)
  const timer = setTimeout(() => {
    if (getPending(clientMessageId)?.state === 'waiting') attempt(clientMessageId)
    else retries.delete(clientMessageId)
  }, delay)
  retries.set(clientMessageId, { count, timer })
}

/** The gateway answered a send over the socket with an error frame (its id as `ref`). */
export function refuseSend(clientMessageId: string, code: string, reason: string): boolean {
  if (!getPending(clientMessageId)) return false
  if (TRANSIENT_CODES.has(code)) retryLater(clientMessageId)
  else setPendingState(clientMessageId, 'failed', reason)
  return true
}

export const retrySend = (clientMessageId: string): void => attempt(clientMessageId)
export function discardSend(clientMessageId: string): void {
  clearTimeout(retries.get(clientMessageId)?.timer)
  retries.delete(clientMessageId)
  dropPending(clientMessageId)
}

/** Connected again (or for the first time after a reload): everything not refused goes out. */
export function flushOutbox(): void {
  for (const [cid, p] of pendingSends()) if (p.state !== 'failed') attempt(cid)
}

type Stored = [string, PendingSend][]

/** After sign-in: the tab's unsent messages of this user come back, and every change is kept. */
export function restoreOutbox(): void {
  const me = getMe()
  if (!me) return
  const stored = readSession<Stored>(KEY, me.id) ?? []
  batch(() => {
    for (const [cid, p] of stored) {
      if (typeof cid !== 'string' || typeof p?.conversationId !== 'string' || typeof p.text !== 'string' || !Array.isArray(p.attachments)) continue
      // Whatever was on its way when the tab went away is not known to have arrived: it waits.
      addPending(cid, { ...p, state: p.state === 'failed' ? 'failed' : 'waiting' })
    }
  })
  subscribe('messages', () => writeSession(KEY, me.id, [...pendingSends()]))
}

import { connect, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import type { Static, TSchema } from 'typebox'
import type { FastifyBaseLogger as Logger } from 'fastify'
import { ErrorCode, NATS_HEADERS, type NatsEndpoint, type NatsEvent } from '@palisade/contracts'
import { context, propagation, ROOT_CONTEXT, SpanKind, trace, type Context, type Span } from '@opentelemetry/api'
import { ProblemError } from '../problem.js'
import { inSpan, inSpanSync, SERVICE_ATTRIBUTE, tracer } from '../tracing/tracing.js'
import { decodePayload, encodePayload, PayloadError } from './codec.js'
import { isDatabaseUnavailable } from '../db/unavailable.js'

export interface NatsConnectOptions {
  url: string
  name: string
  user?: string | undefined
  pass?: string | undefined
  /**
   * Prefix of this client's reply inboxes. Defaults to `_INBOX_<name>`: deploy/nats/nats.conf lets
   * each service subscribe only to its own prefix, so no other service can read its replies.
   */
  inboxPrefix?: string | undefined
}

/** `_INBOX_<name>` with anything but letters, digits, `_` and `-` replaced: one subject token. */
export function inboxPrefixFor(name: string): string {
  return `_INBOX_${name.replace(/[^A-Za-z0-9_-]/g, '_')}`
}

/** Connects with endless reconnects (services outlive NATS restarts) and a bounded first attempt. */
export async function connectNats(opts: NatsConnectOptions): Promise<NatsConnection> {
  return connect({
    servers: opts.url.split(','),
    name: opts.name,
    inboxPrefix: opts.inboxPrefix ?? inboxPrefixFor(opts.name),
    ...(opts.user ? { user: opts.user, pass: opts.pass ?? '' } : {}),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: 5000,
    pingInterval: 10_000,
    // By default every request builds two Error objects up front (a stack for a timeout it will
    // rarely have): 6 % of the gateway's CPU under the day bench. natsRequest names the subject in
    // its errors, which says more than the caller's stack would.
    noAsyncTraces: true
  })
}

/** Who a NATS call acts for; set by the calling service from the verified identity. */
export interface CallContext {
  userId?: string | undefined
  sessionId?: string | undefined
  requestId?: string | undefined
}

function contextHeaders(ctx: CallContext): MsgHdrs {
  const h = natsHeaders()
  if (ctx.userId) h.set(NATS_HEADERS.actingUser, ctx.userId)
  if (ctx.sessionId) h.set(NATS_HEADERS.actingSession, ctx.sessionId)
  if (ctx.requestId) h.set(NATS_HEADERS.requestId, ctx.requestId)
  propagation.inject(context.active(), h, { set: (carrier, key, value) => carrier.set(key, value) })
  return h
}

/** The trace a message's `traceparent` header continues (none: a new one). */
export function traceContextOf(h: MsgHdrs | undefined): Context {
  if (!h) return ROOT_CONTEXT
  return propagation.extract(ROOT_CONTEXT, h, { keys: (c) => c.keys(), get: (c, key) => c.get(key) || undefined })
}

/**
 * A CONSUMER span for handling a message published inside a trace (its `traceparent` header), as a
 * child of the publisher's span; undefined when the message names no trace (nothing to join).
 */
export function consumerSpan(name: string, service: string, h: MsgHdrs | undefined): Span | undefined {
  if (!h?.get('traceparent')) return undefined
  const parent = traceContextOf(h)
  if (!trace.getSpanContext(parent)) return undefined
  return tracer().startSpan(name, { kind: SpanKind.CONSUMER, attributes: { [SERVICE_ATTRIBUTE]: service, 'messaging.system': 'nats' } }, parent)
}

export function contextFromHeaders(h: MsgHdrs | undefined): CallContext {
  return {
    userId: h?.get(NATS_HEADERS.actingUser) || undefined,
    sessionId: h?.get(NATS_HEADERS.actingSession) || undefined,
    requestId: h?.get(NATS_HEADERS.requestId) || undefined
  }
}

/** Told how long each request of a connection took, by subject (the metrics plugin's histogram). */
export type NatsRequestObserver = (subject: string, seconds: number) => void
const requestObservers = new WeakMap<NatsConnection, NatsRequestObserver>()

export function observeNatsRequests(nc: NatsConnection, observer: NatsRequestObserver): void {
  requestObservers.set(nc, observer)
}

/**
 * Calls a request/reply endpoint, validating what goes out and what comes back. A NATS service
 * error reply becomes a ProblemError with the replier's status and code; no responder or a
 * timeout becomes 503/504 so HTTP callers answer with a problem, never a hang.
 */
export async function natsRequest<Req extends TSchema, Res extends TSchema>(
  nc: NatsConnection,
  ep: NatsEndpoint<Req, Res>,
  payload: Static<Req>,
  ctx: CallContext = {},
  timeoutMs = 3000
): Promise<Static<Res>> {
  return inSpan(`nats.request ${ep.subject}`, { 'messaging.system': 'nats', 'messaging.destination.name': ep.subject }, SpanKind.CLIENT, () =>
    requestOnce(nc, ep, payload, ctx, timeoutMs)
  )
}

async function requestOnce<Req extends TSchema, Res extends TSchema>(
  nc: NatsConnection,
  ep: NatsEndpoint<Req, Res>,
  payload: Static<Req>,
  ctx: CallContext,
  timeoutMs: number
): Promise<Static<Res>> {
  let msg: Msg
  const started = performance.now()
  const observe = requestObservers.get(nc)
  try {
    msg = await nc.request(ep.subject, encodePayload(payload), { timeout: timeoutMs, headers: contextHeaders(ctx) })
    observe?.(ep.subject, (performance.now() - started) / 1000)
  } catch (err) {
    observe?.(ep.subject, (performance.now() - started) / 1000)
    const e = err as Error & { isNoResponders?: () => boolean }
    if (e.name === 'NoRespondersError' || e.isNoResponders?.()) {
      throw new ProblemError(503, ErrorCode.serviceUnavailable, `${ep.owner} is unavailable`)
    }
    if (e.name === 'TimeoutError' || /timeout/i.test(e.message)) {
      throw new ProblemError(504, ErrorCode.timeout, `${ep.owner} did not answer in time`)
    }
    throw err
  }
  const serviceError = msg.headers?.get(NATS_HEADERS.serviceError)
  if (serviceError) {
    const status = Number(msg.headers?.get(NATS_HEADERS.serviceErrorCode)) || 500
    const code = msg.headers?.get(NATS_HEADERS.problemCode) || ErrorCode.internal
    throw new ProblemError(status, code, serviceError)
  }
  try {
    return decodePayload(ep.response, msg.data)
  } catch (err) {
    throw new ProblemError(502, ErrorCode.badGateway, `${ep.owner} sent an invalid reply: ${(err as Error).message}`)
  }
}

export interface ServeOptions {
  log: Logger
  /** queue group so that several instances share the load (default: the endpoint owner) */
  queue?: string
}

function replyError(msg: Msg, status: number, code: string, description: string): void {
  const h = natsHeaders()
  h.set(NATS_HEADERS.serviceError, description.slice(0, 512))
  h.set(NATS_HEADERS.serviceErrorCode, String(status))
  h.set(NATS_HEADERS.problemCode, code)
  msg.respond(new Uint8Array(), { headers: h })
}

/**
 * Answers a request/reply endpoint. Every request is validated before the handler sees it; errors
 * go back with the NATS services convention headers (`Nats-Service-Error`, `-Code`).
 */
export function natsServe<Req extends TSchema, Res extends TSchema>(
  nc: NatsConnection,
  ep: NatsEndpoint<Req, Res>,
  handler: (payload: Static<Req>, ctx: CallContext, msg: Msg) => Promise<Static<Res>>,
  opts: ServeOptions
): Subscription {
  const sub = nc.subscribe(ep.subject, { queue: opts.queue ?? ep.owner })
  void (async () => {
    for await (const msg of sub) {
      void handleOne(msg)
    }
  })()
  function handleOne(msg: Msg): Promise<void> {
    return context.with(traceContextOf(msg.headers), () =>
      inSpan(
        `nats.serve ${ep.subject}`,
        { [SERVICE_ATTRIBUTE]: ep.owner, 'messaging.system': 'nats', 'messaging.destination.name': ep.subject },
        SpanKind.SERVER,
        () => serveOne(msg)
      )
    )
  }
  async function serveOne(msg: Msg): Promise<void> {
    const ctx = contextFromHeaders(msg.headers)
    const log = opts.log.child({ subject: ep.subject, reqId: ctx.requestId })
    let payload: Static<Req>
    try {
      payload = decodePayload(ep.request, msg.data)
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'rejected invalid NATS request')
      return replyError(msg, 400, ErrorCode.validationFailed, (err as Error).message)
    }
    try {
      const result = await handler(payload, ctx, msg)
      if (msg.reply) msg.respond(encodePayload(result))
    } catch (err) {
      if (err instanceof ProblemError) return replyError(msg, err.statusCode, err.code, err.statusCode >= 500 ? 'internal error' : err.message)
      if (err instanceof PayloadError) return replyError(msg, 400, ErrorCode.validationFailed, err.message)
      if (isDatabaseUnavailable(err)) return replyError(msg, 503, ErrorCode.serviceUnavailable, 'database unavailable')
      log.error({ err }, 'NATS handler failed')
      replyError(msg, 500, ErrorCode.internal, 'internal error')
    }
  }
  return sub
}

/**
 * Publishes an event. Inside a trace the publish is a PRODUCER span (named by the event's subject
 * pattern, never a user's subject) whose context travels in the headers, so subscribers can continue
 * it; outside one (heartbeats, lease renewals) it makes no span.
 */
export function natsPublish<P extends TSchema>(nc: NatsConnection, ev: NatsEvent<P>, payload: Static<P>, subject = ev.subject, ctx: CallContext = {}): void {
  const data = encodePayload(payload)
  if (!trace.getSpan(context.active())) return nc.publish(subject, data, { headers: contextHeaders(ctx) })
  inSpanSync(`nats.publish ${ev.subject}`, { 'messaging.system': 'nats', 'messaging.destination.name': ev.subject }, SpanKind.PRODUCER, () =>
    nc.publish(subject, data, { headers: contextHeaders(ctx) })
  )
}

/** Subscribes to an event; invalid payloads are logged and dropped, never handed to `handler`. */
export function natsSubscribe<P extends TSchema>(
  nc: NatsConnection,
  ev: NatsEvent<P>,
  handler: (payload: Static<P>, msg: Msg) => void | Promise<void>,
  opts: { log: Logger; subject?: string; queue?: string }
): Subscription {
  const sub = nc.subscribe(opts.subject ?? ev.subject, opts.queue ? { queue: opts.queue } : {})
  void (async () => {
    for await (const msg of sub) {
      try {
        await handler(decodePayload(ev.payload, msg.data), msg)
      } catch (err) {
        opts.log.warn({ err: err instanceof PayloadError ? err.message : err, subject: msg.subject }, 'dropped NATS event')
      }
    }
  })()
  return sub
}

import { context, propagation, trace, SpanKind, SpanStatusCode, type Context, type Span, type Tracer } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { AlwaysOffSampler, BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'

/** The instrumentation scope of every Palisade span. */
export const TRACER_NAME = 'palisade'
/** Attribute naming the service that made a span (several share one process in tests and `pnpm start`'s edge). */
export const SERVICE_ATTRIBUTE = 'palisade.service'

export interface TracingOptions {
  service: string
  /** OTLP/HTTP endpoint (`http://collector:4318`); no export without it */
  otlpEndpoint?: string | undefined
  /** extra processors (tests: a SimpleSpanProcessor on an InMemorySpanExporter) */
  processors?: SpanProcessor[]
}

let provider: BasicTracerProvider | null = null

/**
 * Installs the process's tracer provider, W3C trace-context propagation and an AsyncLocalStorage
 * context manager (so a query inside a handler is the handler's child). Without an OTLP endpoint
 * (and no other processor) spans are not recorded: ids are still made and `traceparent` still
 * travels (the edge starts or continues it, logs carry trace_id), but no span data is collected
 * when nothing would export it. Idempotent: the first call in a process wins.
 */
export function initTracing(opts: TracingOptions): void {
  if (provider) return
  const processors = [...(opts.processors ?? [])]
  if (opts.otlpEndpoint) {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${opts.otlpEndpoint.replace(/\/$/, '')}/v1/traces` })))
  }
  provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': `palisade-${opts.service}` }),
    spanProcessors: processors,
    ...(processors.length === 0 ? { sampler: new AlwaysOffSampler() } : {})
  })
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  trace.setGlobalTracerProvider(provider)
}

/** Flushes and stops export (on shutdown). */
export async function shutdownTracing(): Promise<void> {
  await provider?.shutdown()
}

export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME)
}

type Carrier = Record<string, string | string[] | undefined>
const getter = {
  keys: (c: Carrier) => Object.keys(c),
  get: (c: Carrier, key: string) => c[key]
}

/** The context a request's `traceparent` header names (or the active one when it names none). */
export function traceContextFromHeaders(headers: Carrier): Context {
  return propagation.extract(context.active(), headers, getter)
}

/** A SERVER span continuing the trace `headers` name (a new trace when they name none), and its context. */
export function startServerSpan(name: string, attributes: Record<string, string>, headers: Carrier): { span: Span; ctx: Context } {
  const parent = traceContextFromHeaders(headers)
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER, attributes }, parent)
  return { span, ctx: trace.setSpan(parent, span) }
}

/** Writes `traceparent` (and `tracestate`) of `ctx` into `headers`. */
export function injectTraceHeaders(headers: Record<string, string>, ctx: Context = context.active()): Record<string, string> {
  propagation.inject(ctx, headers)
  return headers
}

/** Runs `fn` in a new span (a child of the active one), ending it when the promise settles. */
export async function inSpan<T>(name: string, attributes: Record<string, string>, kind: SpanKind, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span)
    } catch (err) {
      throw markFailed(span, err)
    } finally {
      span.end()
    }
  })
}

/** `inSpan` for synchronous work (a NATS publish). */
export function inSpanSync<T>(name: string, attributes: Record<string, string>, kind: SpanKind, fn: (span: Span) => T): T {
  return tracer().startActiveSpan(name, { kind, attributes }, (span) => {
    try {
      return fn(span)
    } catch (err) {
      throw markFailed(span, err)
    } finally {
      span.end()
    }
  })
}

function markFailed(span: Span, err: unknown): unknown {
  span.recordException(err as Error)
  span.setStatus({ code: SpanStatusCode.ERROR })
  return err
}

/** trace_id/span_id of the active span for log lines (pino `mixin`), nothing outside a trace. */
export function traceLogFields(): Record<string, string> {
  const ctx = trace.getActiveSpan()?.spanContext()
  return ctx && trace.isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {}
}

import type pg from 'pg'
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { SERVICE_ATTRIBUTE, tracer } from './tracing.js'

const TRACED = Symbol('palisade-traced')
const MAX_STATEMENT_CHARS = 2048

type Query = (...args: unknown[]) => unknown

/**
 * Makes every promise-returning query, on the pool (`pool.query`, which drizzle uses) or on a client
 * it lends (transactions), a CLIENT span `pg.query` of the active trace, with the statement text
 * (parameters never: they are user data). Callback-style calls are pg's own (`pool.query` runs
 * the client's that way) and are not counted twice. Queries outside a trace (the outbox relay's
 * polling, sweepers) make no span.
 */
export function tracePoolQueries(pool: pg.Pool, service: string): void {
  pool.query = traced(pool.query.bind(pool) as Query, service) as typeof pool.query
  pool.on('connect', (client) => {
    const c = client as pg.PoolClient & { [TRACED]?: true }
    if (c[TRACED]) return
    c[TRACED] = true
    c.query = traced(c.query.bind(c) as Query, service) as typeof c.query
  })
}

function traced(query: Query, service: string): Query {
  return (...args: unknown[]) => {
    if (!trace.getActiveSpan() || args.some((a) => typeof a === 'function')) return query(...args)
    const first = args[0] as string | { text?: string; name?: string } | undefined
    const text = typeof first === 'string' ? first : (first?.text ?? '')
    const span = tracer().startSpan('pg.query', {
      kind: SpanKind.CLIENT,
      attributes: {
        [SERVICE_ATTRIBUTE]: service,
        'db.system.name': 'postgresql',
        'db.query.text': text.slice(0, MAX_STATEMENT_CHARS),
        ...(typeof first === 'object' && first?.name ? { 'db.query.summary': first.name } : {})
      }
    })
    return (query(...args) as Promise<unknown>).then(
      (r) => {
        span.end()
        return r
      },
      (err: Error) => {
        span.recordException(err)
        span.setStatus({ code: SpanStatusCode.ERROR })
        span.end()
        throw err
      }
    )
  }
}

import { traceLogFields } from './tracing/tracing.js'
import type { FastifyServerOptions } from 'fastify'
import { stdSerializers, type LoggerOptions } from 'pino'
import { redactTokenPaths } from '@palisade/contracts'

/** Every place a secret can show up in a log line: headers, bodies and our own log fields. */
export const REDACT_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-authenticated-assertion"]',
  // a WebSocket client may carry its bearer token here (palisade.bearer.<token>)
  'req.headers["sec-websocket-protocol"]',
  'req.headers["set-cookie"]',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.apiKey',
  '*.secret',
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey'
]

const DROPPED_ERROR_FIELDS = new Set(['params', 'detail', 'where', 'internalQuery'])

/**
 * Errors without the values a query ran with. drizzle puts every bound parameter into its error's
 * message and `params` (message text, cursors, emails); PostgreSQL repeats values in `detail`,
 * `where` and, quoted, in the message ("time zone \"…\" not recognized"). The statement, SQLSTATE,
 * constraint and table stay for debugging.
 */
export function scrubError(err: unknown): unknown {
  if (!(err instanceof Error)) return err
  const fromDrizzle = 'params' in err && 'query' in err
  const fromPostgres = 'severity' in err && 'routine' in err
  const cause: unknown = err.cause
  const scrubbedCause = scrubError(cause)
  if (!fromDrizzle && !fromPostgres && scrubbedCause === cause) return err
  const scrub = (text: string | undefined) => {
    if (text === undefined) return text
    if (fromDrizzle) text = text.replace(/\nparams: [\s\S]*?(?=\n {4}at |$)/, '')
    if (fromPostgres) text = text.replace(/"[^"\n]*"/g, '"…"')
    return text
  }
  const copy = Object.create(Object.getPrototypeOf(err) as object) as Error & Record<string, unknown>
  for (const [k, v] of Object.entries(err)) if (!DROPPED_ERROR_FIELDS.has(k)) copy[k] = v
  copy.message = scrub(err.message) ?? ''
  copy.stack = scrub(err.stack)
  if (cause !== undefined) copy.cause = scrubbedCause
  return copy
}

export function loggerOptions(service: string, level: string): LoggerOptions {
  return {
    level,
    base: { service },
    // Every line written inside a traced request or NATS handler names its trace.
    mixin: traceLogFields,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      err: (err: Error) => stdSerializers.errWithCause(scrubError(err) as Error),
      req(req: { method: string; url: string; id: string; headers?: Record<string, unknown> }) {
        // Query strings may carry tokens from careless clients: log the path only, and share-link
        // paths (a token in the path) redacted.
        const q = req.url.indexOf('?')
        return { id: req.id, method: req.method, url: redactTokenPaths(q === -1 ? req.url : req.url.slice(0, q)) }
      }
    }
  }
}

/**
 * Fastify `childLoggerFactory`: a plain pino child per request. A route `logLevel` equal to the
 * service's own is left out, since pino rebuilds every log method of a child that is given a level.
 */
export const requestChildLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, opts) => {
  if (opts.level === undefined || opts.level !== logger.level) return logger.child(bindings, opts)
  const { level: _, ...rest } = opts
  return logger.child(bindings, rest)
}

import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'
import { stdSerializers, type Logger, type LoggerOptions } from 'pino'

/** Every place a secret can show up in a log line: headers, bodies and our own log fields. */
export const REDACT_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-authenticated-assertion"]',
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
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      err: (err: Error) => stdSerializers.errWithCause(scrubError(err) as Error),
      req(req: { method: string; url: string; id: string; headers?: Record<string, unknown> }) {
        // Query strings may carry tokens from careless clients: log the path only.
        const q = req.url.indexOf('?')
        return { id: req.id, method: req.method, url: q === -1 ? req.url : req.url.slice(0, q) }
      }
    }
  }
}

type LogMethod = (...args: unknown[]) => void
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const
type Level = (typeof LEVELS)[number]

/**
 * A request's logger that becomes a pino child (bindings: the request id) only when something is
 * logged at an enabled level. Fastify makes one child per request, and one with a route `logLevel`
 * rebuilds every log method; on a route that logs nothing (every hit of /verify, /healthz, a cached
 * page) that was measurable work for nothing. What is logged is the same: the child is created with
 * the same bindings and options at the first enabled call.
 */
export class LazyRequestLogger {
  private real: Logger | undefined
  private readonly threshold: number

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Record<string, unknown>,
    private readonly opts: Record<string, unknown>
  ) {
    const level = typeof opts.level === 'string' ? opts.level : parent.level
    this.threshold = parent.levels.values[level] ?? Number.POSITIVE_INFINITY
  }

  get level(): string {
    return this.logger().level
  }

  set level(level: string) {
    this.logger().level = level
  }

  child(bindings: Record<string, unknown>, opts?: Record<string, unknown>): Logger {
    return this.logger().child(bindings, opts)
  }

  isLevelEnabled(level: string): boolean {
    return (this.parent.levels.values[level] ?? Number.NEGATIVE_INFINITY) >= this.threshold
  }

  silent(): void {}

  private logger(): Logger {
    return (this.real ??= this.parent.child(this.bindings, this.opts))
  }

  static {
    for (const name of LEVELS) {
      Object.defineProperty(LazyRequestLogger.prototype, name, {
        value: function (this: LazyRequestLogger, ...args: unknown[]) {
          if ((this.parent.levels.values[name] ?? 0) >= this.threshold) (this.logger()[name as Level] as LogMethod)(...args)
        }
      })
    }
  }
}

/** Fastify `childLoggerFactory`: see LazyRequestLogger. */
export const lazyChildLogger: NonNullable<FastifyServerOptions['childLoggerFactory']> = (logger, bindings, opts) =>
  new LazyRequestLogger(logger as unknown as Logger, bindings, opts as Record<string, unknown>) as unknown as FastifyBaseLogger

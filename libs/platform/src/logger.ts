import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'
import type { Logger, LoggerOptions } from 'pino'

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

export function loggerOptions(service: string, level: string): LoggerOptions {
  return {
    level,
    base: { service },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
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

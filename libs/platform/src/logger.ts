import type { LoggerOptions } from 'pino'

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

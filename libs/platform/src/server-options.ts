import { randomUUID } from 'node:crypto'
import type { FastifyServerOptions } from 'fastify'
import { REQUEST_ID_HEADER } from '@palisade/contracts'
import { requestChildLogger, loggerOptions } from './logger.js'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export interface ServerOptionsInput {
  service: string
  logLevel: string
  bodyLimit?: number
  /** how long a client may take to send a whole request (default 60 s; files: MAX_REQUEST_SECONDS) */
  requestTimeoutMs?: number
  /** pino destination stream (tests capture logs through it) */
  logStream?: NodeJS.WritableStream
}

/**
 * Fastify options every service uses: request ids taken from the proxy when well-formed, redacted
 * logs, and Ajv set to reject unknown properties instead of silently dropping them.
 */
export function serverOptions(input: ServerOptionsInput): FastifyServerOptions {
  const logger = loggerOptions(input.service, input.logLevel)
  return {
    logger: input.logStream ? { ...logger, stream: input.logStream } : logger,
    childLoggerFactory: requestChildLogger,
    bodyLimit: input.bodyLimit ?? 64 * 1024,
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers[REQUEST_ID_HEADER]
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID()
    },
    trustProxy: false,
    return503OnClosing: true,
    connectionTimeout: 30_000,
    requestTimeout: input.requestTimeoutMs ?? 60_000,
    routerOptions: { ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, maxParamLength: 200 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } }
  } as FastifyServerOptions
}

import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { ErrorCode, redactTokenPaths } from '@palisade/contracts'
import { ProblemError, problemBody, PROBLEM_CONTENT_TYPE } from '../problem.js'
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/unavailable.js'

const FRAMEWORK_CODES: Record<string, { status: number; code: string; detail: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: ErrorCode.bodyTooLarge, detail: 'Request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: ErrorCode.unsupportedMediaType, detail: 'Unsupported content type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: ErrorCode.malformedBody, detail: 'Invalid content length' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: ErrorCode.malformedBody, detail: 'Body must not be empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: ErrorCode.malformedBody, detail: 'Body is not valid JSON' },
  FST_ERR_BAD_URL: { status: 400, code: ErrorCode.validationFailed, detail: 'Malformed URL' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: ErrorCode.validationFailed, detail: 'Bad request' }
}

/** The problem's `instance`: the path, without a query, and never a share-link token. */
function pathOf(url: string): string {
  const q = url.indexOf('?')
  return redactTokenPaths(q === -1 ? url : url.slice(0, q))
}

export function sendProblem(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  code: string,
  detail?: string,
  errors?: { path: string; message: string }[]
): FastifyReply {
  return reply
    .code(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(problemBody(status, code, detail, pathOf(request.url), errors))
}

/**
 * One error handler for every service: client mistakes become 4xx problem+json with a stable code;
 * a database out of reach is 503 with Retry-After; anything else is logged and answered with a 500
 * that reveals nothing about internals.
 */
export const errorHandlerPlugin = fp(
  async (app) => {
    app.setErrorHandler((error: FastifyError | ProblemError, request, reply) => {
      if (error instanceof ProblemError) {
        for (const [k, v] of Object.entries(error.headers)) reply.header(k, v)
        if (error.statusCode === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS))
        if (error.statusCode >= 500) request.log.error({ err: error }, 'request failed')
        return sendProblem(reply, request, error.statusCode, error.code, error.statusCode >= 500 ? undefined : error.message)
      }
      const fe = error as FastifyError
      if (fe.validation) {
        const errors = fe.validation.slice(0, 20).map((v) => ({
          path: `${fe.validationContext ?? 'body'}${v.instancePath || ''}`,
          message: String(v.message ?? 'is invalid').slice(0, 200)
        }))
        return sendProblem(reply, request, 400, ErrorCode.validationFailed, 'Request did not match the schema', errors)
      }
      const known = fe.code ? FRAMEWORK_CODES[fe.code] : undefined
      if (known) return sendProblem(reply, request, known.status, known.code, known.detail)
      if (error instanceof SyntaxError || fe.statusCode === 400) {
        return sendProblem(reply, request, 400, ErrorCode.malformedBody, 'Malformed request')
      }
      const status = fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500 ? fe.statusCode : 500
      if (status === 500 && isDatabaseUnavailable(error)) {
        request.log.warn({ err: error.message }, 'database unavailable')
        reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS))
        return sendProblem(reply, request, 503, ErrorCode.serviceUnavailable, 'The service is temporarily unavailable')
      }
      if (status === 500) {
        request.log.error({ err: error }, 'unhandled error')
        return sendProblem(reply, request, 500, ErrorCode.internal, 'An unexpected error occurred')
      }
      const code =
        status === 429 ? ErrorCode.tooManyRequests : status === 404 ? ErrorCode.notFound : status === 413 ? ErrorCode.bodyTooLarge : ErrorCode.validationFailed
      return sendProblem(reply, request, status, code, fe.message.slice(0, 200))
    })
    app.setNotFoundHandler((request, reply) => sendProblem(reply, request, 404, ErrorCode.notFound, 'Not found'))
  },
  { name: 'palisade-error-handler' }
)

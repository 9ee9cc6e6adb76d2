import { ErrorCode, PROBLEM_CONTENT_TYPE, type ErrorCodeValue, type Problem } from '@palisade/contracts'

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
}

export function statusTitle(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error')
}

/** An error that becomes an RFC 9457 problem response (or a NATS service error) as it is. */
export class ProblemError extends Error {
  override name = 'ProblemError'
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCodeValue | string,
    detail?: string,
    readonly headers: Record<string, string> = {}
  ) {
    super(detail ?? statusTitle(statusCode))
  }
}

export const problems = {
  notFound: (detail = 'Not found') => new ProblemError(404, ErrorCode.notFound, detail),
  unauthenticated: (detail = 'Authentication required', code: string = ErrorCode.unauthenticated) => new ProblemError(401, code, detail),
  forbidden: (detail = 'Forbidden', code: string = ErrorCode.forbidden) => new ProblemError(403, code, detail),
  conflict: (detail: string, code: string = ErrorCode.conflict) => new ProblemError(409, code, detail),
  badRequest: (detail: string, code: string = ErrorCode.validationFailed) => new ProblemError(400, code, detail),
  tooMany: (retryAfterSeconds: number, detail = 'Too many requests') =>
    new ProblemError(429, ErrorCode.tooManyRequests, detail, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) })
}

export function problemBody(status: number, code: string, detail: string | undefined, instance?: string, errors?: Problem['errors']): Problem {
  const body: Problem = { type: `https://palisade.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`, title: statusTitle(status), status, code }
  if (detail) body.detail = detail
  if (instance) body.instance = instance
  if (errors && errors.length > 0) body.errors = errors
  return body
}

export { PROBLEM_CONTENT_TYPE }

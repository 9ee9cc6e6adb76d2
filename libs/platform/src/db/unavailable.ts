/** Seconds a client is told to wait (Retry-After) while the database cannot be reached. */
export const DATABASE_RETRY_AFTER_SECONDS = 2

// 08: connection exceptions; 57P01–57P03: the server is shutting down, crashed or starting up.
const SQLSTATES = new Set(['08000', '08001', '08003', '08004', '08006', '57P01', '57P02', '57P03'])
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN'])
// node-postgres reports a lost or impossible connection with plain Errors carrying only a message.
const MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed|the database system is (starting up|shutting down|in recovery mode)/

/**
 * Whether an error means "the database is not reachable right now" (as opposed to a bad query): the
 * request then gets 503 with Retry-After, and the process stays up to serve again once it is back.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && (SQLSTATES.has(e.code) || SOCKET_CODES.has(e.code))) return true
    if (typeof e.message === 'string' && MESSAGES.test(e.message)) return true
  }
  return false
}

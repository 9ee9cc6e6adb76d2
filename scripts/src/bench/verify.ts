/**
 * /auth/verify with a valid access cookie, as the edge calls it for every request: the hot path
 * (token cache hit by sha256, reused per-service assertion). Runs the real auth service on a
 * throwaway database and a private nats-server.
 */
import { startTestStack } from '@palisade/testkit'
import { discardStream, type Bench, benchCleanups } from './framework.js'

export const verifyBench: Bench = {
  name: 'verify',
  description: 'auth GET /auth/verify with a valid cookie (ForwardAuth hot path)',
  async setup() {
    const cleanups = benchCleanups()
    const host = cleanups.host
    const stack = await startTestStack(host, { auth: { LOG_LEVEL: 'info' }, authLogStream: discardStream() })
    const alice = await stack.createUser({ displayName: 'Bench' })
    const headers = {
      cookie: alice.cookie,
      accept: 'application/json',
      'x-forwarded-method': 'GET',
      'x-forwarded-uri': '/api/chat/conversations',
      'x-forwarded-host': 'localhost:8080',
      'x-forwarded-proto': 'http',
      'x-forwarded-for': '203.0.113.9'
    }
    return {
      targets: [{ name: 'auth /verify (cookie)', url: `${stack.authUrl}/auth/verify`, headers }],
      goals: [{ target: 'auth /verify (cookie)', minRatio: 0.6, maxP99Ms: 5 }],
      teardown: cleanups.run
    }
  }
}

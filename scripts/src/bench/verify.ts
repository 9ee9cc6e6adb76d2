/**
 * /auth/verify with a valid access cookie, as the edge calls it for every request: the hot path
 * (token cache hit by sha256, reused per-service assertion) on a throwaway database and a private
 * nats-server.
 *
 * The goal is measured on auth as it is deployed: its own process (`src/server.ts`), its CPU time
 * read from /proc. The same service built inside this process is printed beside it for comparison;
 * there it shares an event loop with the testkit stack's own connections and timers.
 */
import { startTestStack } from '@palisade/testkit'
import { discardStream, type Bench, benchCleanups } from './framework.js'
import { procCpuUs, startServiceProcess } from './service-process.js'

const OWN_PROCESS = 'auth /verify (cookie, own process)'
const IN_PROCESS = 'auth /verify (cookie, in the bench process)'

export const verifyBench: Bench = {
  name: 'verify',
  description: 'auth GET /auth/verify with a valid cookie (ForwardAuth hot path)',
  async setup() {
    const cleanups = benchCleanups()
    const host = cleanups.host
    const stack = await startTestStack(host, { auth: { LOG_LEVEL: 'info' }, authLogStream: discardStream() })
    const alice = await stack.createUser({ displayName: 'Bench' })
    const env = Object.fromEntries(Object.entries(stack.authConfig).map(([k, v]) => [k, String(v)]))
    const auth = await startServiceProcess('auth', { ...env, LOG_LEVEL: 'info' })
    host.teardown(() => auth.stop())
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
      targets: [
        { name: OWN_PROCESS, url: `${auth.url}/auth/verify`, headers, serverCpuMicros: () => procCpuUs(auth.pid) },
        { name: IN_PROCESS, url: `${stack.authUrl}/auth/verify`, headers }
      ],
      goals: [{ target: OWN_PROCESS, minRatio: 0.6, maxP99Ms: 5 }],
      teardown: cleanups.run
    }
  }
}

import { test } from 'tap'
import Fastify from 'fastify'
import rateLimit from '@fastify/rate-limit'
import { createPool, pgRateLimitStore, type SharedRateLimits } from '../src/index.js'
import { createTestDatabase } from '../src/testing/index.js'

/**
 * Two instances of one service on one database: the budgets they share and the ones they do not.
 * `/budget` declares its own budget (3 a minute); `/plain` only has the service-wide one (2 a minute).
 */
test('pgRateLimitStore: instances spend one budget; with "routes" the service-wide limit stays per instance', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const pool = createPool({ url: db.url, name: 'rate-limit-test' })
  t.teardown(() => pool.end())
  await pool.query('CREATE SCHEMA svc; CREATE TABLE svc.rate_limits (key text PRIMARY KEY, hits integer NOT NULL, window_end timestamptz NOT NULL)')

  async function instance(shared: SharedRateLimits) {
    const app = Fastify()
    await app.register(rateLimit, { global: true, max: 2, timeWindow: 60_000, store: pgRateLimitStore(() => pool, 'svc', shared) as never })
    app.get('/plain', async () => 'ok')
    app.get('/budget', { config: { rateLimit: { max: 3, timeWindow: 60_000 } } }, async () => 'ok')
    await app.ready()
    t.teardown(() => app.close())
    return (url: string) => app.inject({ url, remoteAddress: '203.0.113.5' }).then((r) => r.statusCode)
  }

  const [a, b] = [await instance('routes'), await instance('routes')]
  t.same(
    [await a('/budget'), await b('/budget'), await a('/budget'), await b('/budget'), await a('/budget')],
    [200, 200, 200, 429, 429],
    "a route's budget is one for both"
  )
  t.same([await a('/plain'), await a('/plain'), await a('/plain')], [200, 200, 429], 'the service-wide limit holds on one instance')
  t.equal(await b('/plain'), 200, 'and is counted per instance (flood protection of each process)')
  t.equal((await pool.query("SELECT count(*)::int AS n FROM svc.rate_limits WHERE key LIKE 'global %'")).rows[0].n, 0, 'no row for it')

  await pool.query('DELETE FROM svc.rate_limits')
  const [c, d] = [await instance('all'), await instance('all')]
  t.same([await c('/plain'), await d('/plain'), await c('/plain')], [200, 200, 429], "with 'all' the service-wide limit is shared too")
})

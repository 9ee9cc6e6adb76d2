import t from 'tap'
import Fastify from 'fastify'
import { metricsPlugin } from '../src/plugins/metrics.js'

t.test('metrics: per route pattern on a listener of their own', async (t) => {
  const app = Fastify()
  await app.register(metricsPlugin, { service: 'demo', host: '127.0.0.1', port: 0 })
  app.get('/things/:id', async () => ({ ok: true }))
  app.get('/metrics', async () => 'the app has its own /metrics route: the plugin never serves there')
  await app.ready()
  t.teardown(() => app.close())

  for (const id of ['7f1c', 'user@example.com']) await app.inject({ method: 'GET', url: `/things/${encodeURIComponent(id)}` })
  await app.inject({ method: 'GET', url: '/nowhere/42' })

  const url = app.metricsServer.url
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const res = await fetch(`${url}/metrics`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  t.match(text, 'palisade_http_requests_total{service="demo",method="GET",route="/things/:id",status_code="200"} 2')
  t.match(text, 'palisade_http_requests_total{service="demo",method="GET",route="unmatched",status_code="404"} 1')
  t.match(text, /palisade_http_request_duration_seconds_bucket\{le="0\.005",service="demo",method="GET",route="\/things\/:id",status_code="200"\}/)
  t.match(text, /^palisade_process_cpu_user_seconds_total \d/m, 'default process metrics, prefixed')
  t.notMatch(text, /7f1c|example\.com|nowhere/, 'no raw URL, id or email in any label')

  t.equal((await fetch(`${url}/other`)).status, 404, 'nothing else on the metrics listener')
  t.equal((await fetch(`${url}/metrics`, { method: 'POST' })).status, 404)
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).body, 'the app has its own /metrics route: the plugin never serves there')
})

t.test('metrics: a taken port fails the start, it is not silently skipped', async (t) => {
  const first = Fastify()
  await first.register(metricsPlugin, { service: 'a', host: '127.0.0.1', port: 0 })
  await first.ready()
  t.teardown(() => first.close())
  const port = Number(new URL(first.metricsServer.url).port)
  const second = Fastify()
  await t.rejects(second.register(metricsPlugin, { service: 'b', host: '127.0.0.1', port }).ready(), { code: 'EADDRINUSE' })
  await second.close().catch(() => {})
})

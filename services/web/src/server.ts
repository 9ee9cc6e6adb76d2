import { DEFAULT_PUBLIC_DIR, buildIfStale, createWebServer } from './app.js'

const env = process.env
const port = Number(env.PORT ?? '0')
const host = env.HOST ?? '127.0.0.1'
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('PORT must be an integer between 0 and 65535')
  process.exit(1)
}
let server
try {
  // `pnpm start` on a fresh clone (or after editing the client): build the SPA first. Production
  // images are built ahead of time (deploy/Dockerfile) and never build at start.
  if (env.NODE_ENV !== 'production' && !env.WEB_PUBLIC_DIR) buildIfStale()
  server = createWebServer({ publicDir: env.WEB_PUBLIC_DIR ?? DEFAULT_PUBLIC_DIR })
} catch (err) {
  console.error((err as Error).message)
  process.exit(1)
}
server.listen(port, host, () => {
  const a = server.address()
  if (/^(info|debug|trace)$/.test(env.LOG_LEVEL ?? 'info')) console.log(JSON.stringify({ level: 30, service: 'web', msg: `listening on ${host}:${typeof a === 'object' && a ? a.port : port}` }))
})
const stop = (): void => {
  server.close(() => process.exit(0))
  server.closeIdleConnections()
  setTimeout(() => process.exit(0), 5000).unref()
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)

// The local edge as a process of its own, for the Mode 1 topology: started inside the edge
// namespace, it listens on the public segment and relays to the services on the internal one.
//
//   --listen host:port  --upstreams <json {service: url}>  --auth-verify <url>
//   --broken no-strip              TEST-ONLY: client-sent identity headers survive (neither deleted
//                                  nor overwritten by auth's), like a proxy without the scrub
//   --broken publish=H:P>T:P       TEST-ONLY: also forward public H:P to internal T:P, like a
//                                  service given a published port (`ports:` in compose)
//
// The broken knobs live here, in the isolation harness, not in the edge: they exist so the suite
// can prove it notices a misconfigured deployment.
import type { IncomingMessage } from 'node:http'
import { connect, createServer } from 'node:net'
import { parseArgs } from 'node:util'
import type { ServiceName } from '@palisade/contracts'
import { createEdge } from '../edge/edge.js'
import { freezeClientIdentity } from './broken.js'

const { values } = parseArgs({
  options: {
    listen: { type: 'string' },
    upstreams: { type: 'string' },
    'auth-verify': { type: 'string' },
    broken: { type: 'string', multiple: true }
  }
})

const [host, port] = (values.listen ?? '').split(/:(?=\d+$)/)
const upstreams = JSON.parse(values.upstreams ?? '{}') as Partial<Record<ServiceName, string>>
const edge = createEdge({
  upstreams,
  authVerifyUrl: values['auth-verify']!,
  proxyTimeoutMs: 5000,
  log: (e) => (e.level === 'error' ? process.stderr.write(`[edge] ${JSON.stringify(e)}\n`) : undefined)
})

for (const b of values.broken ?? []) {
  if (b === 'no-strip') {
    edge.server.prependListener('request', (req: IncomingMessage) => freezeClientIdentity(req))
    edge.server.prependListener('upgrade', (req: IncomingMessage) => freezeClientIdentity(req))
  } else if (b.startsWith('publish=')) {
    const m = /^publish=(.+):(\d+)>(.+):(\d+)$/.exec(b)
    if (!m) throw new Error(`bad --broken ${b}`)
    createServer((c) => {
      const u = connect(Number(m[4]), m[3]!)
      c.on('error', () => u.destroy())
      u.on('error', () => c.destroy())
      c.pipe(u).pipe(c)
    }).listen(Number(m[2]), m[1]!)
  } else throw new Error(`unknown --broken ${b}`)
}

await edge.listen(Number(port), host)
process.stdout.write(`edge ready on ${values.listen}${values.broken?.length ? ` (BROKEN: ${values.broken.join(', ')})` : ''}\n`)
const stop = () => void edge.close().finally(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

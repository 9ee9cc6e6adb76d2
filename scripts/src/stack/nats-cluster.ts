import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AppServiceName } from '@palisade/contracts'
import { waitForPort } from '@palisade/platform/testing'
import { renderClusterNodeConf } from '../nats/config.js'
import { prepareNats, type StackNats } from './nats.js'
import { Supervised } from './supervisor.js'
import { natsClientPort, natsRoutePort } from './topology.js'

export interface NatsNode {
  name: string
  port: number
  routePort: number
  process: Supervised
}

export interface StackNatsCluster extends StackNats {
  nodes: NatsNode[]
}

/**
 * `nodes` nats-servers on loopback forming one cluster: each reads the generated deploy/nats/nats.conf
 * (the same users and permissions as a single server) plus a cluster block, and is started again when
 * it dies. Services get every node's URL and move to another when theirs goes away.
 */
export async function startNatsCluster(opts: {
  dataDir: string
  basePort: number
  nodes: number
  passwords: Record<AppServiceName, string>
  log: (m: string) => void
  /** every (re)start of a node */
  onSpawn?: () => void
}): Promise<StackNatsCluster> {
  const { binary, dir } = prepareNats(opts.dataDir, opts.passwords)
  const host = '127.0.0.1'
  const routes = Array.from({ length: opts.nodes }, (_, k) => `nats-route://${host}:${natsRoutePort(opts.basePort, opts.nodes, k)}`)
  const nodes: NatsNode[] = []
  for (let k = 0; k < opts.nodes; k++) {
    const name = `palisade-${k + 1}`
    const port = natsClientPort(opts.basePort, k)
    const routePort = natsRoutePort(opts.basePort, opts.nodes, k)
    const file = join(dir, `${name}.conf`)
    writeFileSync(file, renderClusterNodeConf({ name, routeHost: host, routePort, routes }))
    const supervised = new Supervised({
      name,
      command: binary,
      args: ['-c', file, '-a', host, '-p', String(port)],
      spawn: { stdio: ['ignore', 'ignore', 'pipe'] },
      restart: true,
      onSpawn: (child) => {
        child.stderr?.on('data', (d: Buffer) => {
          for (const line of d.toString().split('\n'))
            if (/\[(ERR|FTL)\]/.test(line) && !/Plaintext passwords|Error trying to connect to route/.test(line)) opts.log(`nats ${name}: ${line.trim()}`)
        })
        // after this node is in the list (the first spawn happens inside the constructor)
        setImmediate(() => opts.onSpawn?.())
      },
      onExit: ({ code, signal }) => opts.log(`nats ${name} exited (${signal ?? `code ${code}`}); starting it again`)
    })
    nodes.push({ name, port, routePort, process: supervised })
  }
  await Promise.all(nodes.map((n) => waitForPort(n.port, { deadline: Date.now() + 15_000, what: `nats-server ${n.name}` })))
  return {
    url: nodes.map((n) => `nats://${host}:${n.port}`).join(','),
    managed: true,
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.process.stop(5000)))
    }
  }
}

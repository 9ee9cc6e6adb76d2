import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, waitForPort } from './ports.js'

export interface TestNatsServer {
  url: string
  port: number
  process: ChildProcess
  stop(): Promise<void>
}

/**
 * A private nats-server for one test file, so that concurrently running test files (each with
 * its own service instances answering the same subjects) never see each other's traffic.
 * `config` is nats-server configuration text (accounts, permissions) without the listen line.
 */
export async function startNatsServer(opts: { config?: string; binary?: string } = {}): Promise<TestNatsServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'palisade-nats-'))
  const confPath = join(dir, 'nats.conf')
  writeFileSync(confPath, `listen: 127.0.0.1:${port}\n${opts.config ?? ''}\n`)
  const child = spawn(opts.binary ?? process.env.NATS_SERVER_BIN ?? 'nats-server', ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start nats-server: ${err.message}`)))
    child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${stderr.slice(-500)}`)))
  })
  await Promise.race([waitForPort(port, { deadline: Date.now() + 10_000, intervalMs: 25, what: 'nats-server' }), exited])
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      // A server killed by a signal has exitCode null too: it is gone when signalCode is set.
      if (child.exitCode === null && child.signalCode === null) {
        const done = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await done
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/**
 * `nodes` private nats-servers routed into one cluster (failover tests: a client moves to another
 * node when its own dies). `url` lists every node, as services take it in NATS_URL.
 */
export async function startNatsCluster(nodes = 2): Promise<{ url: string; nodes: TestNatsServer[]; stop(): Promise<void> }> {
  const routePorts: number[] = []
  for (let i = 0; i < nodes; i++) routePorts.push(await freePort())
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')
  const servers: TestNatsServer[] = []
  for (const [i, port] of routePorts.entries()) {
    servers.push(await startNatsServer({ config: `server_name: node-${i + 1}\ncluster { name: test, listen: 127.0.0.1:${port}, routes: [${routes}] }` }))
  }
  return {
    url: servers.map((s) => s.url).join(','),
    nodes: servers,
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()))
    }
  }
}

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
      if (child.exitCode === null) {
        const done = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await done
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

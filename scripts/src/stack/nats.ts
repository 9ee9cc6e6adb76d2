import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { which } from '../lib/which.js'
import { waitForPort } from '@palisade/platform/testing'
import { join } from 'node:path'
import type { AppServiceName } from '@palisade/contracts'
import { DEPLOY_DIR } from '../lib/paths.js'
import { PASSWORDS_INCLUDE, renderPasswords } from '../nats/config.js'

export interface StackNats {
  url: string
  /** true when the launcher runs nats-server with deploy/nats (per-service users) */
  managed: boolean
  process?: ChildProcess
  stop(): Promise<void>
}

export function findNatsServer(): string | undefined {
  return which('nats-server')
}

export const NATS_MISSING = [
  'Palisade needs a NATS server and found neither NATS_URL nor a nats-server binary on PATH.',
  '  - install one: `apt-get install nats-server` (Debian/Ubuntu), `brew install nats-server` (macOS),',
  '    or a release binary from the NATS project, then run this again; or',
  '  - point at a running server: NATS_URL=nats://127.0.0.1:4222 pnpm start'
].join('\n')

/**
 * The nats-server binary (or the NATS_MISSING error) and `<data dir>/nats` holding the generated
 * deploy/nats/nats.conf and the stack's passwords beside it, as every launcher-run node reads them.
 */
export function prepareNats(dataDir: string, passwords: Record<AppServiceName, string>): { binary: string; dir: string } {
  const binary = findNatsServer()
  if (!binary) throw new Error(NATS_MISSING)
  const dir = join(dataDir, 'nats')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  copyFileSync(join(DEPLOY_DIR, 'nats', 'nats.conf'), join(dir, 'nats.conf'))
  writeFileSync(join(dir, PASSWORDS_INCLUDE), renderPasswords(passwords), { mode: 0o600 })
  return { binary, dir }
}

/**
 * NATS_URL when given (used as is, no per-service users), else nats-server from PATH started with
 * the generated deploy/nats/nats.conf and the stack's generated passwords.
 */
export async function startNats(opts: {
  natsUrl?: string
  dataDir: string
  port: number
  passwords: Record<AppServiceName, string>
  onExit: (code: number | null) => void
  log: (m: string) => void
}): Promise<StackNats> {
  if (opts.natsUrl) return { url: opts.natsUrl, managed: false, async stop() {} }
  const { binary, dir } = prepareNats(opts.dataDir, opts.passwords)
  const child = spawn(binary, ['-c', join(dir, 'nats.conf'), '-a', '127.0.0.1', '-p', String(opts.port)], { stdio: ['ignore', 'ignore', 'pipe'] })
  let exited = false
  child.stderr?.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (/\[(ERR|FTL|WRN)\]/.test(line) && !/Plaintext passwords/.test(line)) opts.log(`nats: ${line.trim()}`)
  })
  child.once('exit', (code) => {
    exited = true
    opts.onExit(code)
  })
  await waitForPort(opts.port, {
    deadline: Date.now() + 10_000,
    what: 'nats-server',
    failure: () => (exited ? new Error('nats-server exited during start-up (see its output above)') : undefined)
  })
  return {
    url: `nats://127.0.0.1:${opts.port}`,
    managed: true,
    process: child,
    async stop() {
      if (exited) return
      const done = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await done
    }
  }
}

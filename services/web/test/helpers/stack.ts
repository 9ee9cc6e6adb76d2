import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import pg from 'pg'
import { chromium, type Browser } from 'playwright-core'
import { APP_SERVICES } from '@palisade/contracts'
import { createTestDatabase, freePort, freePortBase, TEST_PG_ADMIN_URL } from '@palisade/platform/testing'

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..', '..')
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'web')
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export interface Stack {
  origin: string
  child: ChildProcess
  output(): string
  stop(): Promise<void>
}

/** The one-command stack (`pnpm start`) with the local edge, on a throwaway database. */
export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const db = await createTestDatabase('web')
  const dataDir = mkdtempSync(join(tmpdir(), 'palisade-web-'))
  const port = await freePort()
  const child = spawn(process.execPath, ['--conditions=development', '--import=tsx', join(REPO_ROOT, 'scripts', 'src', 'start.ts')], {
    cwd: join(REPO_ROOT, 'scripts'),
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      NATS_URL: '',
      PALISADE_DATA_DIR: dataDir,
      PALISADE_PORT: String(port),
      // the launcher's fixed service ports (base+1 … base+6, web included)
      PALISADE_SERVICE_PORT_BASE: String(await freePortBase(6)),
      PALISADE_NATS_PORT: String(await freePort()),
      PALISADE_EDGE: 'local',
      // Many registrations and logins from one address in a few seconds.
      AUTH_RATE_LIMIT_PER_MINUTE: '1000',
      AGENTS_LOCAL_TOKEN_DELAY_MS: '40',
      // A 20 s identity lease: the app renews it every ~5 s by rotating its socket (see realtime.ts),
      // so every test below also runs across lease renewals (no lost or doubled message).
      GATEWAY_LEASE_MAX_MS: '20000',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  // If this test process dies without its teardown (a tap timeout), SIGINT still reaches the
  // launcher, which then stops its services and nats-server (SIGKILL would orphan them).
  process.once('exit', () => {
    if (child.exitCode === null) child.kill('SIGINT')
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGINT')
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))])
      if (child.exitCode === null) child.kill('SIGKILL')
    }
    await db.drop().catch(() => {})
    const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL })
    await admin.connect()
    for (const s of APP_SERVICES) await admin.query(`DROP ROLE IF EXISTS "${`${db.name}_${s}`.slice(0, 63)}"`).catch(() => {})
    await admin.end()
    rmSync(dataDir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 150_000
  while (!out.includes('ready: ') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
  if (!out.includes('ready: ')) {
    await stop()
    throw new Error(`the stack did not start:\n${out.slice(-4000)}`)
  }
  return { origin: `http://localhost:${port}`, child, output: () => out, stop }
}

/** Debian's Chromium, headless, no background traffic, a fresh profile per launch. */
export async function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true })
  // playwright-core gives every launch a new temporary --user-data-dir (and refuses one in args).
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
}

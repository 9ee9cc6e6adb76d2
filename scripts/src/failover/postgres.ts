import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { connectWhenReady } from '@palisade/platform'
import { waitForPort } from '@palisade/platform/testing'
import { findPostgresBin, initPostgresCluster } from '../isolation/pg-cluster.js'

/**
 * A PostgreSQL cluster of the harness's own (initdb in a temporary directory, a free loopback port),
 * so that restarting PostgreSQL touches nobody else's database. Stopped with a fast shutdown, as
 * an operator's restart would.
 */
export class HarnessPostgres {
  private child: ChildProcess | undefined
  private constructor(
    private readonly serve: string[],
    private readonly dataDir: string,
    private readonly socketDir: string,
    readonly port: number,
    readonly adminUrl: string
  ) {}

  static async create(dir: string, port: number, password: string): Promise<HarnessPostgres> {
    const bin = findPostgresBin()
    if (!bin) throw new Error('no PostgreSQL server binaries (initdb, postgres) found: install PostgreSQL or run pnpm install')
    mkdirSync(dir, { recursive: true })
    const cluster = initPostgresCluster(dir, bin, { host: '127.0.0.1', port, clientCidr: '127.0.0.1/32' })
    const pgServer = new HarnessPostgres(
      cluster.serve,
      join(dir, 'pg'),
      cluster.socketDir,
      port,
      `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/palisade`
    )
    await pgServer.start()
    const c = new pg.Client({ host: cluster.socketDir, port, user: 'postgres', database: 'postgres' })
    await c.connect()
    await c.query(`ALTER USER postgres PASSWORD '${password.replace(/'/g, "''")}'`)
    await c.query('CREATE DATABASE palisade')
    await c.end()
    return pgServer
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null
  }

  async start(): Promise<void> {
    const child = spawn(this.serve[0]!, this.serve.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] })
    let log = ''
    child.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000)
    })
    this.child = child
    await waitForPort(this.port, {
      deadline: Date.now() + 30_000,
      what: 'the harness PostgreSQL',
      failure: () => (child.exitCode !== null ? new Error(`PostgreSQL exited: ${log}`) : undefined)
    })
    // It listens before it accepts sessions (57P03 "starting up" meanwhile).
    const c = await connectWhenReady(`postgres://postgres@${encodeURIComponent(this.socketDir)}:${this.port}/postgres`)
    await c.end()
  }

  /** Fast shutdown (SIGINT to the postmaster: sessions are cut, as in a restart). */
  async stop(): Promise<void> {
    const child = this.child
    if (!child || !this.running) return
    const exited = new Promise((r) => child.once('exit', r))
    // Under runuser the child is not the postmaster: signal the postmaster itself.
    const pid = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
    process.kill(pid, 'SIGINT')
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))])
    if (this.running) child.kill('SIGKILL')
  }
}

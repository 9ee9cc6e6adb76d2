import { createWriteStream } from 'node:fs'
import { chmod, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { MIGRATIONS_TABLE } from '@palisade/platform'
import { copyTree, exists, listFiles } from './file-tree.js'
import { quoteIdent, schemaTables } from './catalog.js'
import {
  BACKUP_FORMAT_VERSION,
  fileSha256,
  MANIFEST_CHECKSUM_FILE,
  MANIFEST_FILE,
  sha256,
  type BackupManifest,
  type BackupSchema,
  type BackupTable
} from './manifest.js'

export interface CreateBackupOptions {
  /** an administrator connection to the database (reads every service's schema) */
  databaseUrl: string
  /** the service schemas to save (one per service that owns data) */
  schemas: readonly string[]
  /** the files service's FILES_STORAGE_DIR: encrypted blobs, copied as they are */
  filesDir: string
  /** a new, empty directory */
  out: string
  /** directory of secret files (key rings, signing and MFA keys) to include; omitted: none */
  secretsDir?: string
  now?: Date
}

/**
 * One backup: every schema from ONE REPEATABLE READ transaction (a single snapshot, so rows of
 * different services agree with each other), then the file store. Blobs written after the
 * snapshot are extra (unreferenced) in the copy, which is harmless; the files service deletes a
 * blob only after its row, so a referenced blob is still there when it is copied.
 */
export async function createBackup(opts: CreateBackupOptions): Promise<BackupManifest> {
  if ((await readdir(opts.out).catch(() => [])).length > 0) throw new Error(`${opts.out} is not empty: back up into a new directory`)
  try {
    return await writeBackup(opts)
  } catch (err) {
    // a half-written backup must not be mistaken for one: it goes (the directory was empty)
    await rm(opts.out, { recursive: true, force: true }).catch(() => {})
    throw err
  }
}

async function writeBackup(opts: CreateBackupOptions): Promise<BackupManifest> {
  await mkdir(join(opts.out, 'db'), { recursive: true, mode: 0o700 })
  await chmod(opts.out, 0o700)
  const client = new pg.Client({ connectionString: opts.databaseUrl, application_name: 'palisade-backup' })
  await client.connect()
  const schemas: BackupSchema[] = []
  let database: BackupManifest['database']
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    const info = await client.query<{ db: string; version: string }>('SELECT current_database() AS db, version() AS version')
    database = { name: info.rows[0]!.db, serverVersion: info.rows[0]!.version }
    for (const schema of opts.schemas) schemas.push(await dumpSchema(client, schema, opts.out))
    await client.query('COMMIT')
  } finally {
    await client.end()
  }
  if (!(await exists(join(opts.filesDir, 'objects')))) throw new Error(`${opts.filesDir} is not the files service's store (no objects/): set FILES_STORAGE_DIR`)
  // tmp/ holds uploads still in progress (never referenced by a row): not part of the store
  const blobs = (await listFiles(opts.filesDir)).filter((p) => p.startsWith('objects/'))
  const files = await copyTree(opts.filesDir, opts.out, 'files', blobs)
  const manifest: BackupManifest = {
    format: 'palisade-backup',
    version: BACKUP_FORMAT_VERSION,
    createdAt: (opts.now ?? new Date()).toISOString(),
    database,
    schemas,
    files,
    ...(opts.secretsDir ? { secrets: await copyTree(opts.secretsDir, opts.out, 'secrets', await listFiles(opts.secretsDir)) } : {})
  }
  const text = `${JSON.stringify(manifest, null, 2)}\n`
  await writeFile(join(opts.out, MANIFEST_FILE), text, { mode: 0o600 })
  await writeFile(join(opts.out, MANIFEST_CHECKSUM_FILE), `${sha256(text)}  ${MANIFEST_FILE}\n`, { mode: 0o600 })
  return manifest
}

async function dumpSchema(client: pg.Client, schema: string, out: string): Promise<BackupSchema> {
  const found = await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schema])
  if (found.rowCount === 0) throw new Error(`schema ${schema} does not exist in this database: is this Palisade's database?`)
  const migrations = await client
    .query<{ hash: string; created_at: string }>(`SELECT hash, created_at FROM ${quoteIdent(schema)}.${quoteIdent(MIGRATIONS_TABLE)} ORDER BY created_at`)
    .then((r) => r.rows.map((m) => ({ hash: m.hash, createdAt: Number(m.created_at) })))
    .catch(() => [])
  const tables: BackupTable[] = []
  for (const { name, columns } of await schemaTables(client, schema)) {
    if (name === MIGRATIONS_TABLE) continue
    const path = `db/${schema}.${name}.copy`
    let rows = 0
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        for (const byte of chunk) if (byte === 0x0a) rows++
        done(null, chunk)
      }
    })
    const cols = columns.map(quoteIdent).join(', ')
    await pipeline(
      client.query(copyTo(`COPY ${quoteIdent(schema)}.${quoteIdent(name)} (${cols}) TO STDOUT`)),
      count,
      createWriteStream(join(out, path), { mode: 0o600 })
    )
    tables.push({ name, columns, rows, file: { path, ...(await fileSha256(join(out, path))) } })
  }
  const sequences = await client.query<{ name: string; last_value: string }>(
    'SELECT sequencename AS name, last_value::text FROM pg_catalog.pg_sequences WHERE schemaname = $1 AND last_value IS NOT NULL ORDER BY 1',
    [schema]
  )
  return { name: schema, migrations, tables, sequences: sequences.rows.map((s) => ({ name: s.name, lastValue: s.last_value })) }
}

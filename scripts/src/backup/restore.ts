import { createReadStream } from 'node:fs'
import { chmod, copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { migrationPlan, MIGRATIONS_TABLE, serviceRoleName, serviceSearchPath } from '@palisade/platform'
import { quoteIdent } from './catalog.js'
import { exists, isEmptyDir, listFiles } from './file-tree.js'
import { BackupError, fileSha256, MANIFEST_CHECKSUM_FILE, MANIFEST_FILE, parseManifest, sha256, type BackupFile, type BackupManifest } from './manifest.js'

export interface RestoreOptions {
  /** the backup directory */
  from: string
  /** an administrator connection to the target database */
  databaseUrl: string
  /** the target FILES_STORAGE_DIR */
  filesDir: string
  /** where each schema's drizzle migrations are (`services/<schema>/drizzle`) */
  migrationsFolder(schema: string): string
  /** restore the backup's secret files into this directory (the backup must hold them) */
  secretsDir?: string
  /** overwrite a target that already holds data (its schemas are dropped and the file store emptied) */
  force?: boolean
}

/**
 * Checks everything a restore will read before it touches anything: the manifest against its
 * checksum, then every listed file's size and sha256; files the manifest does not list are refused
 * too (something was added). Throws a BackupError naming every problem found.
 */
export async function verifyBackup(dir: string): Promise<BackupManifest> {
  let text: string
  let sum: string
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8')
    sum = (await readFile(join(dir, MANIFEST_CHECKSUM_FILE), 'utf8')).trim().split(/\s+/)[0] ?? ''
  } catch {
    throw new BackupError(`${dir} is not a Palisade backup: ${MANIFEST_FILE} or ${MANIFEST_CHECKSUM_FILE} is missing`)
  }
  if (sha256(text) !== sum) throw new BackupError(`${MANIFEST_FILE} does not match ${MANIFEST_CHECKSUM_FILE}: the backup was altered or damaged`)
  const manifest = parseManifest(text)
  const listed: BackupFile[] = [...manifest.schemas.flatMap((s) => s.tables.map((t) => t.file)), ...manifest.files, ...(manifest.secrets ?? [])]
  const problems: string[] = []
  const known = new Set([MANIFEST_FILE, MANIFEST_CHECKSUM_FILE])
  for (const f of listed) {
    known.add(f.path)
    const path = join(dir, f.path)
    if (!(await exists(path))) {
      problems.push(`${f.path}: missing`)
      continue
    }
    const actual = await fileSha256(path)
    if (actual.bytes !== f.bytes) problems.push(`${f.path}: ${actual.bytes} bytes, the manifest says ${f.bytes} (truncated or altered)`)
    else if (actual.sha256 !== f.sha256) problems.push(`${f.path}: checksum mismatch (corrupted or altered)`)
  }
  for (const path of await listFiles(dir)) if (!known.has(path)) problems.push(`${path}: not listed in the manifest`)
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join('\n  ')
    throw new BackupError(
      `backup ${dir} failed verification, nothing was restored:\n  ${shown}${problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ''}`
    )
  }
  return manifest
}

/**
 * Verifies the backup, checks the target, then restores every schema in ONE transaction (either all
 * of the database is restored or none of it) and copies the file store. Each schema is rebuilt by
 * its own migrations up to the backup's level, as the schema's owner role (so the service owns its
 * tables as after a normal start), and the rows are loaded with COPY; services apply newer
 * migrations themselves when they start. The file store is written before that transaction commits
 * and emptied again if anything fails.
 */
export async function restoreBackup(opts: RestoreOptions): Promise<BackupManifest> {
  const manifest = await verifyBackup(opts.from)
  if (opts.secretsDir && !manifest.secrets) throw new BackupError('this backup holds no secrets (it was made without --with-secrets)')
  const plans = manifest.schemas.map((s) => {
    const levels = s.migrations.map((m) => m.createdAt)
    const upTo = levels.length > 0 ? Math.max(...levels) : -1
    const plan = migrationPlan(opts.migrationsFolder(s.name), s.name, { upTo })
    const code = new Map(plan.map((m) => [m.folderMillis, m.hash]))
    for (const m of s.migrations) {
      if (code.get(m.createdAt) !== m.hash)
        throw new BackupError(
          `schema ${s.name}: migration ${m.createdAt} of the backup is not one of this release's: restore with the release that made the backup`
        )
    }
    return { schema: s, plan }
  })

  const client = new pg.Client({ connectionString: opts.databaseUrl, application_name: 'palisade-restore' })
  await client.connect()
  try {
    const database = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db
    const owners = new Map<string, string>()
    const occupied: string[] = []
    for (const { schema } of plans) {
      const r = await client.query<{ owner: string; tables: string }>(
        `SELECT pg_catalog.pg_get_userbyid(n.nspowner) AS owner,
                (SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'S', 'v', 'm'))::text AS tables
         FROM pg_catalog.pg_namespace n WHERE n.nspname = $1`,
        [schema.name]
      )
      const row = r.rows[0]
      const role = row?.owner ?? serviceRoleName(database, schema.name)
      const roleExists = await client.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [role])
      if (roleExists.rowCount === 0)
        throw new BackupError(`role ${role} for schema ${schema.name} does not exist: provision the target first (db-init, or pnpm start once)`)
      owners.set(schema.name, role)
      if (row && Number(row.tables) > 0) occupied.push(`schema ${schema.name}`)
    }
    if (!(await isEmptyDir(opts.filesDir))) occupied.push(`file store ${opts.filesDir}`)
    if (opts.secretsDir)
      for (const f of manifest.secrets ?? []) if (await exists(secretTarget(opts.secretsDir, f))) occupied.push(`secret ${secretTarget(opts.secretsDir, f)}`)
    if (occupied.length > 0 && !opts.force)
      throw new BackupError(`the target is not empty (${occupied.join(', ')}): restore into a fresh one, or pass --force to replace it`)

    const written = { secrets: [] as string[] }
    await client.query('BEGIN')
    try {
      // Rows are loaded table by table in no particular order: foreign keys and triggers (change
      // notifications) are not to fire for rows that were consistent when they were saved.
      await client.query('SET LOCAL session_replication_role = replica')
      for (const { schema, plan } of plans) {
        const owner = owners.get(schema.name)!
        await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema.name)} CASCADE`)
        await client.query(`CREATE SCHEMA ${quoteIdent(schema.name)} AUTHORIZATION ${quoteIdent(owner)}`)
        await client.query(`REVOKE ALL ON SCHEMA ${quoteIdent(schema.name)} FROM PUBLIC`)
        await client.query(`SET LOCAL ROLE ${quoteIdent(owner)}`)
        await client.query(`SET LOCAL search_path = ${serviceSearchPath(schema.name)}`)
        const migrations = `${quoteIdent(schema.name)}.${quoteIdent(MIGRATIONS_TABLE)}`
        await client.query(`CREATE TABLE ${migrations} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`)
        for (const m of plan) {
          for (const stmt of m.statements) await client.query(stmt)
          await client.query(`INSERT INTO ${migrations} (hash, created_at) VALUES ($1, $2)`, [m.hash, m.folderMillis])
        }
        for (const table of schema.tables) {
          const target = `${quoteIdent(schema.name)}.${quoteIdent(table.name)} (${table.columns.map(quoteIdent).join(', ')})`
          await pipeline(createReadStream(join(opts.from, table.file.path)), client.query(copyFrom(`COPY ${target} FROM STDIN`)))
        }
        for (const seq of schema.sequences) {
          await client.query('SELECT pg_catalog.setval($1, $2::bigint, true)', [`${quoteIdent(schema.name)}.${quoteIdent(seq.name)}`, seq.lastValue])
        }
        await client.query('RESET ROLE')
      }
      // The blobs (and secrets) before COMMIT: a copy that fails rolls the database back too, and
      // what was copied is removed again, so the target is never left half restored.
      await restoreFileStore(opts, manifest, written)
      await client.query('COMMIT')
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      await emptyDir(opts.filesDir).catch(() => {})
      for (const path of written.secrets) await rm(path, { force: true }).catch(() => {})
      throw err
    }
  } finally {
    await client.end()
  }
  return manifest
}

/** Removes what a directory holds, not the directory: it may be a volume's mount point. */
async function emptyDir(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [])) await rm(join(dir, entry), { recursive: true, force: true })
}

async function restoreFileStore(opts: RestoreOptions, manifest: BackupManifest, written: { secrets: string[] }): Promise<void> {
  await emptyDir(opts.filesDir)
  await mkdir(opts.filesDir, { recursive: true, mode: 0o700 })
  await restoreFiles(opts.from, opts.filesDir, 'files/', manifest.files)
  if (opts.secretsDir) written.secrets.push(...(await restoreFiles(opts.from, opts.secretsDir, 'secrets/', manifest.secrets ?? [])))
}

function secretTarget(dir: string, f: BackupFile): string {
  return join(dir, f.path.slice('secrets/'.length))
}

/** Copies the listed files; returns the paths written. */
async function restoreFiles(from: string, to: string, prefix: string, files: BackupFile[]): Promise<string[]> {
  const written: string[] = []
  for (const f of files) {
    const target = join(to, f.path.slice(prefix.length))
    await mkdir(dirname(target), { recursive: true, mode: 0o700 })
    written.push(target)
    await copyFile(join(from, f.path), target)
    await chmod(target, 0o600)
  }
  return written
}

import t from 'tap'
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { AUTH_COOKIES } from '@palisade/contracts'
import { provisionServiceRoles, serviceRoleName } from '@palisade/platform'
import { createTestDatabase, TEST_PG_ADMIN_URL, type TestDatabase } from '@palisade/platform/testing'
import { listFiles } from '../src/backup/file-tree.js'
import { BackupError, fileSha256, MANIFEST_CHECKSUM_FILE, sha256, type BackupManifest } from '../src/backup/manifest.js'
import { restoreBackup } from '../src/backup/restore.js'
import { migrationsFolder } from '../src/backup/cli-env.js'
import { schemaTables } from '../src/backup/catalog.js'
import { REPO_ROOT } from '../src/lib/paths.js'
import { startThrowawayStack } from '../src/stack/throwaway.js'
import { DATA_SERVICES } from '../src/stack/services.js'

// Real data made through the real services behind the edge, `pnpm backup`, `pnpm restore` into a
// fresh database and file directory, then every row and every blob compared; damaged backups are
// refused before anything is written.
// two whole stacks and a dozen CLI runs (each a tsx start) on a loaded machine
t.setTimeout(480_000)
const run = promisify(execFile)
const tmp = mkdtempSync(join(tmpdir(), 'palisade-backup-test-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))

async function cli(script: 'backup' | 'restore', args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, ['--conditions=development', '--import=tsx', join(REPO_ROOT, 'scripts', 'src', `${script}.ts`), ...args], {
      env: { ...process.env, PALISADE_DATA_DIR: join(tmp, 'unused'), ...env }
    })
    return { code: 0, out: r.stdout + r.stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, out: e.stdout + e.stderr }
  }
}

/** A new database with the service roles and schemas provisioned, as db-init leaves it. */
async function freshTarget(name: string): Promise<{ url: string; filesDir: string; db: string; database: TestDatabase }> {
  const db = await createTestDatabase(name)
  const roles = DATA_SERVICES.map((service) => ({ service, role: serviceRoleName(db.name, service), password: randomUUID() }))
  await provisionServiceRoles(db.url, db.name, roles)
  t.teardown(async () => {
    await db.drop().catch(() => {})
    const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL })
    await admin.connect()
    for (const r of roles) await admin.query(`DROP ROLE IF EXISTS "${r.role}"`).catch(() => {})
    await admin.end()
  })
  return { url: db.url, filesDir: join(tmp, `${name}-files`), db: db.name, database: db }
}

/**
 * Tables of running processes, not of data: which chat instances are alive (heartbeats move their
 * expiry, expired ones are swept and re-registered) and which sockets they hold. The live source
 * and a restore of it taken seconds earlier differ there by design, so only their columns count.
 */
const RUNTIME_TABLES = new Set(['chat.presence_instances', 'chat.presence_sockets'])

/** Every row of every table of the data schemas, as sorted COPY lines per table. */
async function snapshot(url: string): Promise<Record<string, string[]>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const out: Record<string, string[]> = {}
  try {
    for (const schema of DATA_SERVICES) {
      for (const { name, columns } of await schemaTables(client, schema)) {
        if (RUNTIME_TABLES.has(`${schema}.${name}`)) {
          out[`${schema}.${name}`] = [`columns: ${columns.join(', ')}`]
          continue
        }
        let text = ''
        const stream = client.query(copyTo(`COPY "${schema}"."${name}" (${columns.map((c) => `"${c}"`).join(', ')}) TO STDOUT`))
        for await (const chunk of stream) text += (chunk as Buffer).toString('utf8')
        out[`${schema}.${name}`] = text.split('\n').filter(Boolean).sort()
      }
    }
  } finally {
    await client.end()
  }
  return out
}

async function blobs(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const p of await listFiles(dir)) out[p] = (await fileSha256(join(dir, p))).sha256
  return out
}

async function tableOwners(url: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const r = await client.query<{ schema: string; owners: string[] }>(
      `SELECT n.nspname AS schema, array_agg(DISTINCT pg_catalog.pg_get_userbyid(c.relowner)::text) AS owners
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ANY($1) AND c.relkind = 'r' GROUP BY 1`,
      [[...DATA_SERVICES]]
    )
    return Object.fromEntries(r.rows.map((row) => [row.schema, row.owners.join(',')]))
  } finally {
    await client.end()
  }
}

const stack = await startThrowawayStack({ name: 'backup' })
t.teardown(() => stack.stop())
if (!stack.ready) t.fail(`the stack did not start:\n${stack.output().slice(-3000)}`)
/** an edge to talk to: the source stack's, or the one started on a restored installation */
interface Edge {
  base: string
  origin: string
}
const sourceEdge: Edge = { base: `http://127.0.0.1:${stack.port}`, origin: stack.origin }

async function signUp(name: string, via = sourceEdge): Promise<{ id: string; cookie: string; email: string; password: string }> {
  const email = `${name}-${randomUUID()}@test.palisade.example`
  const password = `a long password for ${name}`
  const headers = { 'content-type': 'application/json', origin: via.origin }
  const reg = await fetch(`${via.base}/auth/register`, { method: 'POST', headers, body: JSON.stringify({ email, password, displayName: name }) })
  t.equal(reg.status, 201, `${name} registers`)
  return { ...(await logIn(email, password, via)), email, password }
}

async function logIn(email: string, password: string, via = sourceEdge): Promise<{ id: string; cookie: string }> {
  const login = await fetch(`${via.base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: via.origin },
    body: JSON.stringify({ email, password })
  })
  if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`)
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${AUTH_COOKIES.access}=`))!
  return { id: ((await login.json()) as { user: { id: string } }).user.id, cookie }
}

async function api<T>(user: { cookie: string }, method: string, path: string, body?: unknown, via = sourceEdge): Promise<T> {
  const res = await fetch(`${via.base}${path}`, {
    method,
    headers: {
      cookie: user.cookie,
      origin: via.origin,
      accept: 'application/json',
      ...(body instanceof FormData || body === undefined ? {} : { 'content-type': 'application/json' })
    },
    body: body instanceof FormData ? body : body === undefined ? undefined : JSON.stringify(body)
  })
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

const source = { DATABASE_URL: stack.databaseUrl, FILES_STORAGE_DIR: join(stack.dataDir, 'files'), PALISADE_SECRETS_DIR: join(stack.dataDir, 'secrets') }
const backupDir = join(tmp, 'backup')
const secretsBackupDir = join(tmp, 'with-secrets')
/** what the first test made through the services, for the last one to find again */
const made = { email: '', password: '', conversationId: '', files: [] as { id: string; text: string }[], messages: [] as string[] }

t.test('data made through the services survives backup and restore, row for row and blob for blob', async (t) => {
  const alice = await signUp('alice')
  const bob = await signUp('bob')
  const conv = await api<{ id: string }>(alice, 'POST', '/api/chat/conversations', { title: 'Backups', memberIds: [bob.id] })
  Object.assign(made, { email: alice.email, password: alice.password, conversationId: conv.id })
  const files: string[] = []
  for (const [name, text] of [
    ['notes.txt', 'plain text notes\n'.repeat(100)],
    ['report.csv', 'a,b,c\n1,2,3\n']
  ] as const) {
    const fd = new FormData()
    fd.append('conversationId', conv.id)
    fd.append('file', new Blob([text], { type: 'text/plain' }), name)
    files.push((await api<{ id: string }>(alice, 'POST', '/api/files', fd)).id)
    made.files.push({ id: files.at(-1)!, text })
  }
  await api(alice, 'POST', `/api/chat/conversations/${conv.id}/messages`, {
    text: 'first, with a file',
    clientMessageId: randomUUID(),
    attachments: [files[0]]
  })
  await api(bob, 'POST', `/api/chat/conversations/${conv.id}/messages`, { text: 'a reply — ünïcode, "quotes", \\ and a\ttab', clientMessageId: randomUUID() })
  await api(alice, 'POST', `/api/chat/conversations/${conv.id}/messages`, { text: 'line one\nline two', clientMessageId: randomUUID() })

  made.messages = ['first, with a file', 'a reply — ünïcode, "quotes", \\ and a\ttab', 'line one\nline two']
  const done = await cli('backup', ['--out', backupDir], source)
  t.equal(done.code, 0, done.out)
  t.match(done.out, /no secrets/)
  const manifest = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8')) as BackupManifest
  t.same(
    manifest.schemas.map((s) => s.name),
    [...DATA_SERVICES],
    'every service schema is in the backup'
  )
  t.ok(
    manifest.schemas.every((s) => s.migrations.length > 0),
    'with its migration level'
  )
  t.equal(manifest.files.filter((f) => f.path.startsWith('files/objects/')).length, 2, 'both blobs, as stored')
  t.notOk(manifest.secrets, 'no secrets without --with-secrets')
  t.notOk(existsSync(join(backupDir, 'secrets')))
  const messages = manifest.schemas.find((s) => s.name === 'chat')!.tables.find((x) => x.name === 'messages')!
  t.equal(messages.rows, 3, 'three messages counted')

  const target = await freshTarget('restored')
  const restored = await cli('restore', ['--from', backupDir], { DATABASE_URL: target.url, FILES_STORAGE_DIR: target.filesDir })
  t.equal(restored.code, 0, restored.out)

  const before = await snapshot(stack.databaseUrl)
  const after = await snapshot(target.url)
  t.same(Object.keys(after).sort(), Object.keys(before).sort(), 'the same tables, migrations included')
  for (const table of Object.keys(before)) t.same(after[table], before[table], `${table}: every row (${before[table]!.length})`)
  t.same(await blobs(target.filesDir), await blobs(source.FILES_STORAGE_DIR), 'every blob, byte for byte')
  const owners = await tableOwners(target.url)
  for (const s of DATA_SERVICES) t.equal(owners[s], serviceRoleName(target.db, s), `${s}'s tables belong to its own role`)

  const again = await cli('restore', ['--from', backupDir], { DATABASE_URL: target.url, FILES_STORAGE_DIR: target.filesDir })
  t.equal(again.code, 1)
  t.match(again.out, /target is not empty .*--force/, 'a target holding data is refused')
  const forced = await cli('restore', ['--from', backupDir, '--force'], { DATABASE_URL: target.url, FILES_STORAGE_DIR: target.filesDir })
  t.equal(forced.code, 0, forced.out)
  t.same(await snapshot(target.url), before, '--force replaces it with the same data')
})

t.test('secrets only on request', async (t) => {
  const dir = secretsBackupDir
  const done = await cli('backup', ['--out', dir, '--with-secrets'], source)
  t.equal(done.code, 0, done.out)
  t.match(done.out, /SECRET files/)
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BackupManifest
  const names = (manifest.secrets ?? []).map((f) => f.path)
  t.ok(names.includes('secrets/files_keys'), 'the file key ring')
  t.ok(names.includes('secrets/auth_mfa_key'), 'the MFA key')
  const target = await freshTarget('secrets')
  const secretsDir = join(tmp, 'restored-secrets')
  const r = await cli('restore', ['--from', dir, '--with-secrets'], {
    DATABASE_URL: target.url,
    FILES_STORAGE_DIR: target.filesDir,
    PALISADE_SECRETS_DIR: secretsDir
  })
  t.equal(r.code, 0, r.out)
  t.equal(readFileSync(join(secretsDir, 'files_keys'), 'utf8'), readFileSync(join(source.PALISADE_SECRETS_DIR, 'files_keys'), 'utf8'))
  const none = await cli('restore', ['--from', backupDir, '--with-secrets', '--force'], {
    DATABASE_URL: target.url,
    FILES_STORAGE_DIR: target.filesDir,
    PALISADE_SECRETS_DIR: secretsDir
  })
  t.equal(none.code, 1)
  t.match(none.out, /holds no secrets/)
})

t.test('a damaged or altered backup is refused before anything is touched', async (t) => {
  const manifest = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8')) as BackupManifest
  const dataFile = manifest.schemas.find((s) => s.name === 'chat')!.tables.find((x) => x.rows > 0)!.file.path
  const blob = manifest.files.find((f) => f.path.startsWith('files/objects/'))!.path
  const damages: [string, (dir: string) => void, RegExp][] = [
    [
      'a flipped byte in table data',
      (d) => {
        const p = join(d, dataFile)
        const b = readFileSync(p)
        b[Math.floor(b.length / 2)]! ^= 0x01
        writeFileSync(p, b)
      },
      /checksum mismatch/
    ],
    ['a truncated blob', (d) => truncateSync(join(d, blob), 10), /truncated or altered/],
    ['a missing table file', (d) => rmSync(join(d, dataFile)), /missing/],
    ['a file the manifest does not list', (d) => writeFileSync(join(d, 'files', 'objects', 'extra'), 'x'), /not listed in the manifest/],
    [
      'an edited manifest',
      (d) => writeFileSync(join(d, 'manifest.json'), readFileSync(join(d, 'manifest.json'), 'utf8').replace('"rows": 3', '"rows": 4')),
      /does not match manifest\.json\.sha256/
    ],
    [
      'an edited manifest with its checksum recomputed (a blob swapped for another)',
      (d) => {
        const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as BackupManifest
        m.files.find((f) => f.path === blob)!.sha256 = sha256('something else')
        const text = `${JSON.stringify(m, null, 2)}\n`
        writeFileSync(join(d, 'manifest.json'), text)
        writeFileSync(join(d, MANIFEST_CHECKSUM_FILE), `${sha256(text)}  manifest.json\n`)
      },
      /checksum mismatch/
    ],
    [
      'a manifest pointing outside the backup',
      (d) => {
        const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as BackupManifest
        m.files[0]!.path = '../../etc/passwd'
        const text = `${JSON.stringify(m, null, 2)}\n`
        writeFileSync(join(d, 'manifest.json'), text)
        writeFileSync(join(d, MANIFEST_CHECKSUM_FILE), `${sha256(text)}  manifest.json\n`)
      },
      /not a Palisade backup manifest/
    ],
    ['a truncated manifest', (d) => truncateSync(join(d, 'manifest.json'), 100), /does not match/],
    ['no manifest at all', (d) => rmSync(join(d, 'manifest.json')), /not a Palisade backup/]
  ]
  const target = await freshTarget('damaged')
  for (const [i, [what, damage, message]] of damages.entries()) {
    const dir = join(tmp, `damaged-${i}`)
    cpSync(backupDir, dir, { recursive: true })
    damage(dir)
    // the first through `pnpm restore` itself, the rest through the same function in this process
    if (i === 0) {
      const r = await cli('restore', ['--from', dir], { DATABASE_URL: target.url, FILES_STORAGE_DIR: target.filesDir })
      t.equal(r.code, 1, `${what}: refused`)
      t.match(r.out, message, `${what}: ${r.out.trim().split('\n').slice(0, 2).join(' ')}`)
      continue
    }
    const err = await restoreBackup({ from: dir, databaseUrl: target.url, filesDir: target.filesDir, migrationsFolder }).then(
      () => undefined,
      (e: Error) => e
    )
    t.type(err, BackupError, `${what}: refused`)
    t.match(err?.message, message, `${what}: ${err?.message.split('\n').slice(0, 2).join(' ')}`)
  }
  // Checksums and manifest consistent, rows PostgreSQL refuses: the failure comes mid-restore,
  // after tables were created and blobs copied, and still nothing stays behind.
  const bad = join(tmp, 'bad-rows')
  cpSync(backupDir, bad, { recursive: true })
  const m = JSON.parse(readFileSync(join(bad, 'manifest.json'), 'utf8')) as BackupManifest
  const last = m.schemas.at(-1)!.tables.find((x) => x.rows > 0) ?? m.schemas.find((s) => s.name === 'chat')!.tables.at(-1)!
  appendFileSync(join(bad, last.file.path), 'not\ta valid row\n')
  Object.assign(last.file, await fileSha256(join(bad, last.file.path)))
  const text = `${JSON.stringify(m, null, 2)}\n`
  writeFileSync(join(bad, 'manifest.json'), text)
  writeFileSync(join(bad, MANIFEST_CHECKSUM_FILE), `${sha256(text)}  manifest.json\n`)
  const failed = await restoreBackup({ from: bad, databaseUrl: target.url, filesDir: target.filesDir, migrationsFolder }).then(
    () => undefined,
    (e: Error) => e
  )
  t.ok(failed && !(failed instanceof BackupError), `a row PostgreSQL refuses fails the restore (${failed?.message})`)
  t.same(await snapshot(target.url), {}, 'the target database was never touched')
  t.notOk(existsSync(target.filesDir) && readdirSync(target.filesDir).length > 0, 'nor its file store')
})

t.test('a restored installation serves the same people, messages and files', async (t) => {
  const target = await freshTarget('serving')
  const dataDir = join(tmp, 'serving-data')
  const r = await cli('restore', ['--from', secretsBackupDir, '--with-secrets'], {
    DATABASE_URL: target.url,
    FILES_STORAGE_DIR: join(dataDir, 'files'),
    PALISADE_SECRETS_DIR: join(dataDir, 'secrets')
  })
  t.equal(r.code, 0, r.out)
  // the launcher on the restored database and data directory: its services migrate (nothing to do),
  // the file service unwraps the blobs' keys with the restored key ring
  const restored = await startThrowawayStack({ name: 'restored', database: target.database, dataDir })
  t.teardown(() => restored.stop())
  if (!t.ok(restored.ready, 'the stack starts on the restored installation')) return t.comment(restored.output().slice(-3000))
  const edge: Edge = { base: `http://127.0.0.1:${restored.port}`, origin: restored.origin }
  const alice = await logIn(made.email, made.password, edge)
  const page = await api<{ items: { text: string }[] }>(alice, 'GET', `/api/chat/conversations/${made.conversationId}/messages`, undefined, edge)
  t.same(page.items.map((m) => m.text).sort(), [...made.messages].sort(), 'her conversation, every message')
  for (const f of made.files) {
    const res = await fetch(`${edge.base}/api/files/${f.id}/content`, { headers: { cookie: alice.cookie } })
    t.equal(res.status, 200, `file ${f.id}`)
    t.equal(await res.text(), f.text, 'decrypted to the uploaded bytes')
  }
})

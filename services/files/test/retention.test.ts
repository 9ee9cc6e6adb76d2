import t from 'tap'
import { randomUUID } from 'node:crypto'
import { copyFile, mkdir, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ChatMembershipChanged, FilesMetaGet } from '@palisade/contracts'
import { connectNats, natsPublish, natsRequest } from '@palisade/platform'
import { buildService, type TestUser } from '@palisade/testkit'
import filesApp from '../src/app.js'
import { filePart, harness, startFiles, upload, waitFor } from './helpers.js'

// Deleting is soft and immediate for every reader; destroying is the sweep's, after the retention
// period, safe with several instances; restoring is for admins only.
const h = await startFiles(t, { FILES_RETENTION_DAYS: 7 })
// The installation's first account is its admin (roles come only from auth); the others are members.
const admin = await h.stack.createUser()
const alice = await h.stack.createUser()
const mallory = await h.stack.createUser()
const nc = await connectNats({ url: h.stack.natsUrl, name: 'retention-test' })
t.teardown(() => nc.close())

const blobPath = (id: string) => join(h.storageDir, 'objects', id.slice(0, 2), id)
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false
  )
async function store(user: TestUser, text = 'hello\n', extra: { name: string; value: string }[] = []): Promise<string> {
  const res = await upload(h, user, [...extra, filePart('f.txt', Buffer.from(text), 'text/plain')])
  if (res.statusCode !== 201) throw new Error(`upload failed: ${res.statusCode} ${res.body}`)
  return res.json().id
}
const call = async (user: TestUser, method: 'GET' | 'POST' | 'DELETE', url: string) => h.app.inject({ method, url, headers: await h.as(user) })
const used = async (user: TestUser) => (await h.app.pg.query('SELECT used_bytes FROM files.usage WHERE user_id = $1', [user.userId])).rows[0]?.used_bytes
const backdate = (id: string, days: number) => h.app.pg.query(`UPDATE files.files SET deleted_at = now() - $2::interval WHERE id = $1`, [id, `${days} days`])

t.test('a deleted file is gone for everyone at once, but its blob waits', async (t) => {
  const id = await store(alice, 'twelve bytes')
  t.equal(Number(await used(alice)), 12)
  t.equal((await call(alice, 'DELETE', `/api/files/${id}`)).statusCode, 204)
  for (const url of [`/api/files/${id}`, `/api/files/${id}/content`]) t.equal((await call(alice, 'GET', url)).statusCode, 404, url)
  t.same((await call(alice, 'GET', '/api/files')).json().files, [], 'not listed')
  const meta = await natsRequest(nc, FilesMetaGet, { fileId: id }, { userId: alice.userId }).catch((e: Error) => e)
  t.type(meta, Error, 'files.meta.get: gone too')
  t.equal((await call(alice, 'DELETE', `/api/files/${id}`)).statusCode, 404, 'deleting twice is a 404')
  t.equal(Number(await used(alice)), 0, 'the quota is given back at once')
  t.ok(await exists(blobPath(id)), 'the blob stays for the retention period')
})

t.test('only admins see deleted files and restore them; restoring is audited', async (t) => {
  const id = await store(alice, 'restore me\n')
  await call(alice, 'DELETE', `/api/files/${id}`)
  for (const user of [alice, mallory]) {
    t.equal((await call(user, 'GET', '/api/files/deleted')).statusCode, 404, 'not an admin: the route is not there')
    t.equal((await call(user, 'POST', `/api/files/${id}/restore`)).statusCode, 404, 'not even the owner restores')
  }
  const list = await call(admin, 'GET', `/api/files/deleted?ownerId=${alice.userId}`)
  t.equal(list.statusCode, 200)
  const entry = list.json().files.find((f: { file: { id: string } }) => f.file.id === id)
  t.match(entry, { reason: 'owner' })
  t.equal(new Date(entry.purgeAfter).getTime() - new Date(entry.deletedAt).getTime(), 7 * 86_400_000, 'purge date = deletion + retention')
  t.equal((await call(admin, 'GET', '/api/files/deleted?ownerId=nope')).statusCode, 400)

  const restored = await call(admin, 'POST', `/api/files/${id}/restore`)
  t.equal(restored.statusCode, 200)
  t.equal((await call(alice, 'GET', `/api/files/${id}/content`)).body, 'restore me\n', 'readable again, decrypts as before')
  t.equal(Number(await used(alice)), 11, 'charged to the quota again')
  t.equal((await call(admin, 'POST', `/api/files/${id}/restore`)).statusCode, 404, 'a live file cannot be restored')
  t.equal((await call(admin, 'POST', `/api/files/${randomUUID()}/restore`)).statusCode, 404)
  const audit = await h.app.pg.query(`SELECT actor_id FROM files.audit_events WHERE kind = 'file.restored' AND file_id = $1`, [id])
  t.same(audit.rows, [{ actor_id: admin.userId }])
})

t.test('the sweep destroys what is past retention, and nothing else', async (t) => {
  const expired = await store(alice, 'old\n')
  const recent = await store(alice, 'recent\n')
  const live = await store(alice, 'live\n')
  await call(alice, 'DELETE', `/api/files/${expired}`)
  await call(alice, 'DELETE', `/api/files/${recent}`)
  await backdate(expired, 8)
  await backdate(recent, 6)

  const r = await h.app.files.sweeper!.sweep()
  t.ok(r.purged >= 1)
  t.notOk(await exists(blobPath(expired)), 'blob destroyed after the retention period')
  t.equal((await h.app.pg.query('SELECT 1 FROM files.files WHERE id = $1', [expired])).rowCount, 0, 'row too')
  t.equal((await call(admin, 'POST', `/api/files/${expired}/restore`)).statusCode, 404, 'past retention nothing can be restored')
  t.ok(await exists(blobPath(recent)), 'a file deleted 6 days ago stays (7-day retention)')
  t.ok(await exists(blobPath(live)), 'a live file stays')
  t.equal((await call(admin, 'POST', `/api/files/${recent}/restore`)).statusCode, 200)
})

t.test('blobs written but never committed, and stale temp files, are found and removed', async (t) => {
  const live = await store(alice, 'keep me\n')
  // A crash between the rename into objects/ and COMMIT leaves a blob no row points at.
  const orphan = randomUUID()
  await mkdir(join(h.storageDir, 'objects', orphan.slice(0, 2)), { recursive: true })
  await copyFile(blobPath(live), blobPath(orphan))
  const young = randomUUID()
  await mkdir(join(h.storageDir, 'objects', young.slice(0, 2)), { recursive: true })
  await copyFile(blobPath(live), blobPath(young))
  const temp = join(h.storageDir, 'tmp', `${randomUUID()}.part`)
  await writeFile(temp, 'half an upload')
  const old = new Date(Date.now() - 2 * 3600_000)
  for (const p of [blobPath(orphan), blobPath(live), temp]) await utimes(p, old, old)

  const r = await h.app.files.sweeper!.sweep()
  t.equal(r.orphans, 1)
  t.equal(r.temps, 1)
  t.notOk(await exists(blobPath(orphan)), 'the uncommitted blob is gone')
  t.notOk(await exists(temp), 'the stale temp file is gone')
  t.ok(await exists(blobPath(young)), 'a blob younger than an hour may be an upload still committing: kept')
  t.ok(await exists(blobPath(live)), 'an old blob with a row is kept')
  t.equal((await call(alice, 'GET', `/api/files/${live}/content`)).statusCode, 200)
})

t.test('several instances sweeping at once destroy each expired file once, and all of them', async (t) => {
  const second = harness(h.stack, await buildService(t, filesApp, h.config, { service: 'files' }), h.storageDir, h.config)
  const ids: string[] = []
  for (let i = 0; i < 30; i++) ids.push(await store(alice, `file ${i}\n`))
  for (const id of ids) await call(alice, 'DELETE', `/api/files/${id}`)
  await h.app.pg.query(`UPDATE files.files SET deleted_at = now() - interval '30 days' WHERE id = ANY($1)`, [ids])
  const [a, b] = await Promise.all([h.app.files.sweeper!.sweep(), second.app.files.sweeper!.sweep()])
  t.equal(a.purged + b.purged, 30, 'every expired file purged exactly once across instances')
  for (const id of ids) t.notOk(await exists(blobPath(id)))
  t.equal((await h.app.pg.query('SELECT 1 FROM files.files WHERE id = ANY($1)', [ids])).rowCount, 0)
})

t.test("a deleted conversation's files are soft-deleted (chat's event)", async (t) => {
  const conversationId = randomUUID()
  const fileRow = await store(alice, 'in a conversation\n')
  await h.app.pg.query('UPDATE files.files SET conversation_id = $2 WHERE id = $1', [fileRow, conversationId])
  natsPublish(nc, ChatMembershipChanged, { type: 'conversation.deleted', at: new Date().toISOString(), conversationId })
  t.ok(await waitFor(async () => (await call(alice, 'GET', `/api/files/${fileRow}`)).statusCode === 404), 'gone for its owner too')
  const row = (await h.app.pg.query('SELECT delete_reason, deleted_by FROM files.files WHERE id = $1', [fileRow])).rows[0]
  t.same(row, { delete_reason: 'conversation', deleted_by: null })
  t.equal((await call(admin, 'POST', `/api/files/${fileRow}/restore`)).statusCode, 200, 'restorable like any deleted file')
})

import t from 'tap'
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { captureLogs } from '@palisade/platform/testing'
import { FilesTextGet } from '@palisade/contracts'
import { connectNats, natsRequest } from '@palisade/platform'
import { CHUNK_BYTES, TAG_BYTES } from '../src/crypto/chunked.js'
import { filePart, startFiles, upload } from './helpers.js'

// Someone with the storage directory (a backup, a stolen disk, a shell on the host): what they see,
// and what happens when they change a byte. Files are served over HTTP and NATS by the real service.
const logs = captureLogs()
const h = await startFiles(t, { LOG_LEVEL: 'info' }, { logStream: logs.stream })
const alice = await h.stack.createUser()
const nc = await connectNats({ url: h.stack.natsUrl, name: 'at-rest-test' })
t.teardown(() => nc.close())

const MARKER = 'TOP-SECRET-MARKER-'
// Text over three chunks, the marker everywhere: any plaintext on disk would show it.
const text = Buffer.from(MARKER.repeat(Math.ceil((3 * CHUNK_BYTES + 1000) / MARKER.length)))
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')

async function store(data = text, name = 'secret.txt') {
  const res = await upload(h, alice, [filePart(name, data, 'text/plain')])
  t.equal(res.statusCode, 201)
  return res.json() as { id: string; sha256: string; size: number }
}
const blobPath = (id: string) => join(h.storageDir, 'objects', id.slice(0, 2), id)
const get = async (id: string, headers: Record<string, string> = {}) =>
  h.app.inject({ url: `/api/files/${id}/content`, headers: { ...(await h.as(alice)), ...headers } })
async function auditKinds(fileId: string): Promise<string[]> {
  const r = await h.app.pg.query('SELECT kind FROM files.audit_events WHERE file_id = $1 ORDER BY id', [fileId])
  return r.rows.map((row) => row.kind as string)
}

t.test('a copy of the storage directory shows sizes and nothing else', async (t) => {
  const meta = await store()
  for (const path of await h.listStorage()) {
    const bytes = await readFile(join(h.storageDir, path))
    t.notOk(bytes.includes(Buffer.from(MARKER)), `${path} holds no plaintext`)
  }
  const row = (await h.app.pg.query('SELECT key_id, wrapped_key FROM files.files WHERE id = $1', [meta.id])).rows[0]
  t.match(row.key_id, /^[A-Za-z0-9_-]+$/, 'the row names the key-encryption key')
  t.notOk(Buffer.from(row.wrapped_key, 'base64').includes(Buffer.from(MARKER)), 'and holds the data key only wrapped')
  const res = await get(meta.id)
  t.equal(res.statusCode, 200)
  t.equal(res.rawPayload.length, text.length)
  t.equal(sha256(res.rawPayload), meta.sha256, 'served decrypted and whole')
})

t.test('ranges across chunk edges, and a range next to a damaged chunk', async (t) => {
  const meta = await store()
  for (const [s, e] of [
    [0, 9],
    [CHUNK_BYTES - 5, CHUNK_BYTES + 5],
    [2 * CHUNK_BYTES, 3 * CHUNK_BYTES + 7]
  ] as const) {
    const res = await get(meta.id, { range: `bytes=${s}-${e}` })
    t.equal(res.statusCode, 206)
    t.same(res.rawPayload, text.subarray(s, e + 1), `bytes ${s}-${e}`)
  }
  const suffix = await get(meta.id, { range: 'bytes=-7' })
  t.same(suffix.rawPayload, text.subarray(text.length - 7))

  // Damage the third chunk: the first chunk stays readable by range, the damaged one is refused.
  const sealed = await readFile(blobPath(meta.id))
  sealed[2 * (CHUNK_BYTES + TAG_BYTES) + 3]! ^= 0x20
  await writeFile(blobPath(meta.id), sealed)
  const early = await get(meta.id, { range: 'bytes=0-99' })
  t.equal(early.statusCode, 206, 'chunks are verified one by one: an intact chunk is still served')
  t.same(early.rawPayload, text.subarray(0, 100))
  const late = await get(meta.id, { range: `bytes=${2 * CHUNK_BYTES}-${2 * CHUNK_BYTES + 10}` })
  t.equal(late.statusCode, 500)
  t.equal(late.json().code, 'FILE_INTEGRITY_FAILED')
  t.notOk(late.rawPayload.includes(Buffer.from(MARKER)), 'no byte of the damaged chunk')
})

t.test('a modified blob is never served: 500, an audit event, an alert in the logs', async (t) => {
  const meta = await store()
  const sealed = await readFile(blobPath(meta.id))
  sealed[100]! ^= 1
  await writeFile(blobPath(meta.id), sealed)
  const res = await get(meta.id)
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FILE_INTEGRITY_FAILED')
  t.notOk(res.rawPayload.includes(Buffer.from(MARKER)), 'not one byte of the file')
  t.same(await auditKinds(meta.id), ['file.integrity_failed'])
  const alert = logs.lines.map((l) => JSON.parse(l)).find((l) => l.alert === 'file_integrity' && l.fileId === meta.id)
  t.match(alert, { level: 50, alert: 'file_integrity', fileId: meta.id }, 'an error line with a field ops can alert on')

  const viaNats = await natsRequest(nc, FilesTextGet, { fileId: meta.id }, { userId: alice.userId }).catch((err: Error) => err)
  t.type(viaNats, Error, 'files.text.get refuses it too')
  t.equal(await auditKinds(meta.id).then((k) => k.length), 2, 'and audits that read as well')
})

t.test('a blob swapped for another file, or truncated, is refused', async (t) => {
  const a = await store(Buffer.from('alpha '.repeat(100)), 'a.txt')
  const b = await store(Buffer.from('bravo '.repeat(100)), 'b.txt')
  await writeFile(blobPath(a.id), await readFile(blobPath(b.id)))
  const swapped = await get(a.id)
  t.equal(swapped.statusCode, 500, "another file's blob (same size) does not decrypt as this one")
  const full = await readFile(blobPath(b.id))
  await writeFile(blobPath(b.id), full.subarray(0, full.length - 1))
  t.equal((await get(b.id)).statusCode, 500, 'a truncated blob')
  t.equal((await get(b.id, { range: 'bytes=0-3' })).statusCode, 500, 'also for ranges: the size is checked first')
})

t.test('the wrapped key is bound to its row', async (t) => {
  const a = await store(Buffer.from('one '.repeat(50)), 'one.txt')
  const b = await store(Buffer.from('two '.repeat(50)), 'two.txt')
  // Someone with write access to the database copies b's key onto a: still nothing decrypts.
  await h.app.pg.query('UPDATE files.files SET wrapped_key = (SELECT wrapped_key FROM files.files WHERE id = $2) WHERE id = $1', [a.id, b.id])
  const res = await get(a.id)
  t.equal(res.statusCode, 500)
  t.same(await auditKinds(a.id), ['file.integrity_failed'])
})

t.test('a row from before encryption at rest is refused, not served unverified', async (t) => {
  const meta = await store(Buffer.from('legacy '.repeat(10)), 'legacy.txt')
  await h.app.pg.query('UPDATE files.files SET key_id = NULL, wrapped_key = NULL WHERE id = $1', [meta.id])
  const res = await get(meta.id)
  t.equal(res.statusCode, 409)
  t.equal(res.json().code, 'FILE_NOT_ENCRYPTED')
})

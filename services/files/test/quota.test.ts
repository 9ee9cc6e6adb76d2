import t from 'tap'
import { randomBytes } from 'node:crypto'
import { filePart, startFiles, upload } from './helpers.js'

const QUOTA = 100_000
const h = await startFiles(t, { FILES_USER_QUOTA_BYTES: QUOTA, FILES_MAX_BYTES: 80_000, FILES_MAX_CONCURRENT_UPLOADS_PER_USER: 16 })

const text = (n: number) =>
  Buffer.from(
    randomBytes(Math.ceil(n / 2))
      .toString('hex')
      .slice(0, n)
  )

async function usedBytes(userId: string): Promise<number> {
  const r = await h.app.pg.query('SELECT used_bytes::int AS n FROM files.usage WHERE user_id = $1', [userId])
  return r.rows[0]?.n ?? 0
}

t.test('the quota is a distinct 413, and deleting gives the space back', async (t) => {
  const alice = await h.stack.createUser()
  const a = await upload(h, alice, [filePart('a.txt', text(40_000), 'text/plain')])
  const b = await upload(h, alice, [filePart('b.txt', text(40_000), 'text/plain')])
  t.equal(a.statusCode, 201)
  t.equal(b.statusCode, 201)
  const over = await upload(h, alice, [filePart('c.txt', text(40_000), 'text/plain')])
  t.equal(over.statusCode, 413)
  t.equal(over.json().code, 'QUOTA_EXCEEDED', 'not FILE_TOO_LARGE: the file itself is within limits')
  t.equal(await usedBytes(alice.userId), 80_000)
  t.equal((await h.listStorage()).filter((p) => p.startsWith('tmp')).length, 0, 'no temp file left')

  const fits = await upload(h, alice, [filePart('d.txt', text(20_000), 'text/plain')])
  t.equal(fits.statusCode, 201, 'exactly up to the quota is fine')
  const full = await upload(h, alice, [filePart('e.txt', text(1), 'text/plain')])
  t.equal(full.statusCode, 413)
  t.equal(full.json().code, 'QUOTA_EXCEEDED', 'refused before reading the body')

  const del = await h.app.inject({ method: 'DELETE', url: `/api/files/${a.json().id}`, headers: await h.as(alice) })
  t.equal(del.statusCode, 204)
  t.equal(await usedBytes(alice.userId), 60_000)
  t.equal((await upload(h, alice, [filePart('f.txt', text(40_000), 'text/plain')])).statusCode, 201)

  const bob = await h.stack.createUser()
  t.equal((await upload(h, bob, [filePart('g.txt', text(40_000), 'text/plain')])).statusCode, 201, 'quotas are per user')
})

t.test('concurrent uploads never overshoot the quota together', async (t) => {
  const carol = await h.stack.createUser()
  await h.as(carol)
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => upload(h, carol, [filePart(`c${i}.txt`, text(30_000), 'text/plain')])))
  const statuses = results.map((r) => r.statusCode).sort()
  t.same(statuses, [201, 201, 201, 413, 413, 413, 413, 413], 'exactly three of 8 × 30 kB fit in 100 kB')
  for (const r of results.filter((r) => r.statusCode === 413)) t.equal(r.json().code, 'QUOTA_EXCEEDED')
  t.equal(await usedBytes(carol.userId), 90_000)
  const rows = await h.app.pg.query('SELECT count(*)::int AS n, sum(size)::int AS bytes FROM files.files WHERE owner_id = $1', [carol.userId])
  t.same(rows.rows[0], { n: 3, bytes: 90_000 }, 'rows agree with the usage counter')
  const stored = await h.listStorage()
  t.equal(stored.filter((p) => p.startsWith('tmp')).length, 0, 'the refused ones left no temp file')
  const blobs = await h.app.pg.query('SELECT id FROM files.files')
  t.equal(stored.length, blobs.rowCount, 'one blob per row, no orphans')
})

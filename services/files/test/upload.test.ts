import t from 'tap'
import { createHash, randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sealedSize } from '../src/crypto/chunked.js'
import { filePart, PDF, png, startFiles, upload } from './helpers.js'

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const h = await startFiles(t)
const alice = await h.stack.createUser({ displayName: 'Alice' })

t.test('a PNG is stored under a server-made id with its hash, size and sniffed type', async (t) => {
  const image = png(16, 16)
  const res = await upload(h, alice, [filePart('holiday.png', image, 'image/png')])
  t.equal(res.statusCode, 201)
  const meta = res.json()
  t.match(meta, {
    name: 'holiday.png',
    type: 'image/png',
    size: image.length,
    sha256: sha256(image),
    status: 'unscanned',
    ownerId: alice.userId,
    conversationId: null
  })
  t.match(meta.id, UUID)
  t.equal(res.headers.location, `/api/files/${meta.id}`)
  const stored = await h.listStorage()
  t.same(stored, [join('objects', meta.id.slice(0, 2), meta.id)], 'only the blob, named by its id; no temp file left')
  const onDisk = await readFile(join(h.storageDir, stored[0]!))
  t.equal(onDisk.length, sealedSize(image.length), 'sealed at rest: the plaintext size plus one tag per chunk')
  t.notOk(onDisk.includes(image.subarray(0, 16)), 'the stored bytes are not the plaintext')

  const get = await h.app.inject({ url: `/api/files/${meta.id}`, headers: await h.as(alice) })
  t.equal(get.statusCode, 200)
  t.same(get.json(), meta)

  const del = await h.app.inject({ method: 'DELETE', url: `/api/files/${meta.id}`, headers: await h.as(alice) })
  t.equal(del.statusCode, 204)
  t.same(await h.listStorage(), stored, 'soft delete: the blob waits for the retention sweep (retention.test.ts)')
  const gone = await h.app.inject({ url: `/api/files/${meta.id}`, headers: await h.as(alice) })
  t.equal(gone.statusCode, 404)
})

t.test('plain text, PDF and what a client may declare for them', async (t) => {
  const md = await upload(h, alice, [filePart('notes.md', Buffer.from('# Notes\n\nhéllo ✓\n'), 'text/markdown')])
  t.equal(md.statusCode, 201)
  t.match(md.json(), { type: 'text/plain', name: 'notes.md' })
  const octet = await upload(h, alice, [filePart('paper.pdf', PDF, 'application/octet-stream')])
  t.equal(octet.statusCode, 201, 'octet-stream is no claim at all')
  t.match(octet.json(), { type: 'application/pdf' })
  const renamed = await upload(h, alice, [filePart('page.html', Buffer.from('just words, no markup\n'), 'text/plain')])
  t.equal(renamed.statusCode, 201)
  t.equal(renamed.json().name, 'page.html.txt', 'the extension follows the content, so a saved copy never opens as HTML')
  const wrongExt = await upload(h, alice, [filePart('cat.gif', png(), 'application/octet-stream')])
  t.equal(wrongExt.json().name, 'cat.gif.png')
})

t.test('hostile names are sanitised metadata; storage paths never use them', async (t) => {
  const cases: [string, string][] = [
    ['../../etc/passwd', 'passwd.txt'],
    ['%2e%2e%2fetc%2fpasswd', '%2e%2e%2fetc%2fpasswd.txt'],
    ['..%2f..%2fescape.txt', '%2f..%2fescape.txt'],
    ['a\u0000b.txt', 'ab.txt'],
    ['C:\\Windows\\System32\\evil.txt', 'evil.txt'],
    ['\\\\server\\share\\unc.txt', 'unc.txt'],
    ['invoice\u202Etxt.exe', 'invoicetxt.exe.txt'],
    ['..', 'file.txt'],
    ['CON.txt', '_CON.txt'],
    [' \u200B.bashrc', 'bashrc.txt']
  ]
  for (const [raw, expected] of cases) {
    const res = await upload(h, alice, [filePart(raw, Buffer.from('text\n'), 'text/plain')])
    t.equal(res.statusCode, 201, JSON.stringify(raw))
    t.equal(res.json().name, expected, JSON.stringify(raw))
  }
  const long = await upload(h, alice, [filePart(`${'ü'.repeat(400)}.txt`, Buffer.from('x\n'), 'text/plain')])
  t.equal(long.statusCode, 201)
  const name: string = long.json().name
  t.ok(Buffer.byteLength(name) <= 255, `${Buffer.byteLength(name)} bytes`)
  t.ok(name.endsWith('.txt'))
  for (const path of await h.listStorage()) t.match(path, /^objects\/[0-9a-f]{2}\/[0-9a-f-]{36}$/, 'every stored path is objects/<shard>/<uuid>')
})

t.test('listing pages through my files only', async (t) => {
  const bob = await h.stack.createUser()
  for (let i = 0; i < 3; i++) t.equal((await upload(h, bob, [filePart(`b${i}.txt`, Buffer.from(`bob ${i}\n`), 'text/plain')])).statusCode, 201)
  const first = await h.app.inject({ url: '/api/files?limit=2', headers: await h.as(bob) })
  t.equal(first.statusCode, 200)
  const page1 = first.json()
  t.same(
    page1.files.map((f: { name: string }) => f.name),
    ['b2.txt', 'b1.txt'],
    'newest first'
  )
  t.type(page1.nextCursor, 'string')
  const second = await h.app.inject({ url: `/api/files?limit=2&cursor=${page1.nextCursor}`, headers: await h.as(bob) })
  t.same(
    second.json().files.map((f: { name: string }) => f.name),
    ['b0.txt']
  )
  t.equal(second.json().nextCursor, null)
  for (const f of [...page1.files, ...second.json().files]) t.equal(f.ownerId, bob.userId)

  const badCursor = await h.app.inject({ url: '/api/files?cursor=bm90LWEtY3Vyc29y', headers: await h.as(bob) })
  t.equal(badCursor.statusCode, 400)
  const extra = await h.app.inject({ url: '/api/files?owner=x', headers: await h.as(bob) })
  t.equal(extra.statusCode, 400, 'unknown query parameters are rejected')
  const badId = await h.app.inject({ url: '/api/files/not-a-uuid', headers: await h.as(bob) })
  t.equal(badId.statusCode, 400)
  const unknown = await h.app.inject({ url: `/api/files/${randomUUID()}`, headers: await h.as(bob) })
  t.equal(unknown.statusCode, 404)
})

t.test('files created within one millisecond all appear across pages', async (t) => {
  const dana = await h.stack.createUser()
  const ids: string[] = []
  for (let i = 0; i < 3; i++) ids.push((await upload(h, dana, [filePart(`d${i}.txt`, Buffer.from(`dana ${i}\n`), 'text/plain')])).json().id)
  // Microseconds apart inside one millisecond: a cursor carries milliseconds, so the column must too.
  for (const [i, id] of ids.entries()) {
    await h.app.pg.query(`UPDATE files.files SET created_at = '2026-12-01T10:00:00.123Z'::timestamptz + make_interval(secs => $2) WHERE id = $1`, [
      id,
      (i + 1) / 10_000
    ])
  }
  const seen: string[] = []
  let cursor: string | null = null
  do {
    const res = await h.app.inject({ url: `/api/files?limit=1${cursor ? `&cursor=${cursor}` : ''}`, headers: await h.as(dana) })
    t.equal(res.statusCode, 200)
    seen.push(...res.json().files.map((f: { id: string }) => f.id))
    cursor = res.json().nextCursor
  } while (cursor && seen.length < 10)
  t.same([...seen].sort(), [...ids].sort(), 'every file once, none skipped at a page boundary')
})

t.test('downloads: attachment, nosniff, sandbox CSP, sniffed type, ETag, ranges', async (t) => {
  const body = Buffer.from('0123456789abcdefghij\n')
  const up = await upload(h, alice, [filePart('räksmörgås (1).txt', body, 'text/plain')])
  t.equal(up.statusCode, 201)
  const meta = up.json()
  const url = `/api/files/${meta.id}/content`
  const headers = await h.as(alice)

  const res = await h.app.inject({ url, headers })
  t.equal(res.statusCode, 200)
  t.same(res.rawPayload, body)
  t.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  t.equal(res.headers['content-disposition'], `attachment; filename="raksmorgas (1).txt"; filename*=UTF-8''r%C3%A4ksm%C3%B6rg%C3%A5s%20%281%29.txt`)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['content-security-policy'], "sandbox; default-src 'none'")
  t.equal(res.headers.etag, `"${sha256(body)}"`)
  t.equal(res.headers['accept-ranges'], 'bytes')
  t.equal(res.headers['content-length'], String(body.length))
  t.equal(res.headers['cache-control'], 'private, no-cache')

  const notModified = await h.app.inject({ url, headers: { ...headers, 'if-none-match': res.headers.etag as string } })
  t.equal(notModified.statusCode, 304)
  t.equal(notModified.rawPayload.length, 0)

  const partial = await h.app.inject({ url, headers: { ...headers, range: 'bytes=2-5' } })
  t.equal(partial.statusCode, 206)
  t.equal(partial.body, '2345')
  t.equal(partial.headers['content-range'], `bytes 2-5/${body.length}`)
  t.equal(partial.headers['content-length'], '4')
  t.equal(partial.headers['content-security-policy'], "sandbox; default-src 'none'")

  const suffix = await h.app.inject({ url, headers: { ...headers, range: 'bytes=-3' } })
  t.equal(suffix.statusCode, 206)
  t.equal(suffix.body, 'ij\n')

  const unsatisfiable = await h.app.inject({ url, headers: { ...headers, range: `bytes=${body.length}-` } })
  t.equal(unsatisfiable.statusCode, 416)
  t.equal(unsatisfiable.headers['content-range'], `bytes */${body.length}`)
  t.equal(unsatisfiable.json().code, 'RANGE_NOT_SATISFIABLE')

  const multi = await h.app.inject({ url, headers: { ...headers, range: 'bytes=0-1,4-5' } })
  t.equal(multi.statusCode, 200, 'several ranges: the whole file')
  t.same(multi.rawPayload, body)

  const staleIfRange = await h.app.inject({ url, headers: { ...headers, range: 'bytes=0-1', 'if-range': '"other"' } })
  t.equal(staleIfRange.statusCode, 200, 'If-Range that does not match: the whole file')

  const head = await h.app.inject({ method: 'HEAD', url, headers })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-length'], String(body.length))
  t.equal(head.rawPayload.length, 0)

  const inlineText = await h.app.inject({ url: `${url}?disposition=inline`, headers })
  t.match(inlineText.headers['content-disposition'], /^attachment;/, 'only images may be inline')
  const bogus = await h.app.inject({ url: `${url}?disposition=render`, headers })
  t.equal(bogus.statusCode, 400)
})

t.test('images may be shown inline, still sandboxed', async (t) => {
  const image = png(8, 8)
  const up = await upload(h, alice, [filePart('pic.png', image, 'image/png')])
  const url = `/api/files/${up.json().id}/content`
  const headers = await h.as(alice)
  const attachment = await h.app.inject({ url, headers })
  t.equal(attachment.headers['content-type'], 'image/png')
  t.match(attachment.headers['content-disposition'], /^attachment; filename="pic.png"/)
  const inline = await h.app.inject({ url: `${url}?disposition=inline`, headers })
  t.equal(inline.statusCode, 200)
  t.equal(inline.headers['content-disposition'], `inline; filename="pic.png"; filename*=UTF-8''pic.png`)
  t.equal(inline.headers['content-security-policy'], "sandbox; default-src 'none'")
  t.equal(inline.headers['x-content-type-options'], 'nosniff')
  t.same(inline.rawPayload, image)
})

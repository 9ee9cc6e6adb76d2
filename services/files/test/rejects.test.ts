import t, { type Test } from 'tap'
import { deflateSync } from 'node:zlib'
import { filePart, multipart, png, startFiles, upload, type Part } from './helpers.js'

const MAX = 64 * 1024
const h = await startFiles(t, { FILES_MAX_BYTES: MAX })
const alice = await h.stack.createUser()
const bob = await h.stack.createUser()

const HTML = Buffer.from('<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n')
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

/** Every rejection must leave nothing behind: no temp file, no blob, no row, no quota used. */
async function assertNothingLeft(t: Test, label: string) {
  t.same(await h.listStorage(), [], `${label}: storage is empty`)
  t.equal(await h.rowCount(), 0, `${label}: no row`)
  const used = await h.app.pg.query('SELECT coalesce(sum(used_bytes), 0)::int AS n FROM files.usage')
  t.equal(used.rows[0].n, 0, `${label}: no quota used`)
}

async function expectRejected(t: Test, label: string, parts: Part[], status: number, code: string) {
  const res = await upload(h, alice, parts)
  t.equal(res.statusCode, status, `${label}: status`)
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', `${label}: problem+json`)
  t.equal(res.json().code, code, `${label}: code`)
  await assertNothingLeft(t, label)
}

t.test('content that is not what it claims, or not allowed at all: 415', async (t) => {
  const pngThenHtml = Buffer.concat([PNG_SIGNATURE, HTML])
  const validPngWithScript = Buffer.concat([png(2, 2).subarray(0, -12), Buffer.from('tEXt<script>alert(1)</script>'), png(2, 2).subarray(-12)])
  const cases: [string, Part[]][] = [
    ['HTML declared as image/png', [filePart('cat.png', HTML, 'image/png')]],
    ['HTML declared as text/html', [filePart('page.html', HTML, 'text/html')]],
    ['HTML declared as text/plain', [filePart('page.txt', HTML, 'text/plain')]],
    ['HTML without a claim', [filePart('page', HTML, 'application/octet-stream')]],
    ['a PNG header followed by HTML', [filePart('poly.png', pngThenHtml, 'image/png')]],
    ['a PNG carrying a script', [filePart('poly2.png', validPngWithScript, 'image/png')]],
    ['SVG', [filePart('x.svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'), 'image/svg+xml')]],
    ['SVG as text', [filePart('x.txt', Buffer.from('  <svg onload="alert(1)"></svg>'), 'text/plain')]],
    ['XML', [filePart('x.xml', Buffer.from('<?xml version="1.0"?><a/>'), 'application/xml')]],
    ['invalid UTF-8 as text', [filePart('x.txt', Buffer.from([0x68, 0x69, 0xc3, 0x28, 0x0a]), 'text/plain')]],
    ['binary with NUL bytes', [filePart('x.bin', Buffer.from([1, 2, 0, 4, 5]), 'application/octet-stream')]],
    ['a Windows executable', [filePart('setup.exe', Buffer.concat([Buffer.from('MZ'), Buffer.alloc(62), Buffer.from('PE\0\0')]), 'application/octet-stream')]],
    [
      'a zip archive',
      [filePart('a.zip', Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(26), deflateSync(Buffer.alloc(10))]), 'application/zip')]
    ],
    ['a PNG declared as GIF', [filePart('x.gif', png(), 'image/gif')]],
    ['a PNG in a part without Content-Type (text/plain by RFC 7578)', [filePart('x.png', png(), null)]]
  ]
  for (const [label, parts] of cases) await expectRejected(t, label, parts, 415, 'UNSUPPORTED_FILE_TYPE')
})

t.test('size: 413 FILE_TOO_LARGE while streaming, before reading, and for empty files 400', async (t) => {
  // Just over the limit: passes the Content-Length pre-check, cut off by the streaming limit.
  await expectRejected(t, 'one byte too many', [filePart('big.txt', Buffer.alloc(MAX + 1, 0x61), 'text/plain')], 413, 'FILE_TOO_LARGE')
  // Far over: refused from Content-Length before a byte is read.
  await expectRejected(t, 'far too big', [filePart('huge.txt', Buffer.alloc(MAX * 4, 0x61), 'text/plain')], 413, 'FILE_TOO_LARGE')
  const exact = await upload(h, bob, [filePart('exact.txt', Buffer.alloc(MAX, 0x61), 'text/plain')])
  t.equal(exact.statusCode, 201, 'exactly the limit is fine')
  await h.app.inject({ method: 'DELETE', url: `/api/files/${exact.json().id}`, headers: await h.as(bob) })
  // Deleting is soft: purge it now (as the retention sweep would later) so the next check starts empty.
  await h.app.pg.query(`UPDATE files.files SET deleted_at = now() - interval '400 days' WHERE id = $1`, [exact.json().id])
  await h.app.files.sweeper!.sweep()
  await expectRejected(t, 'empty', [filePart('empty.txt', Buffer.alloc(0), 'text/plain')], 400, 'FILE_EMPTY')
})

t.test('form shape: one file, known fields, multipart only', async (t) => {
  await expectRejected(
    t,
    'two files',
    [filePart('a.txt', Buffer.from('a\n'), 'text/plain'), filePart('b.txt', Buffer.from('b\n'), 'text/plain')],
    400,
    'VALIDATION_FAILED'
  )
  await expectRejected(
    t,
    'unknown field',
    [{ name: 'ownerId', value: bob.userId }, filePart('a.txt', Buffer.from('a\n'), 'text/plain')],
    400,
    'VALIDATION_FAILED'
  )
  await expectRejected(
    t,
    'bad conversation id',
    [{ name: 'conversationId', value: '../x' }, filePart('a.txt', Buffer.from('a\n'), 'text/plain')],
    400,
    'VALIDATION_FAILED'
  )
  await expectRejected(
    t,
    'duplicate field',
    [{ name: 'conversationId', value: bob.userId }, { name: 'conversationId', value: bob.userId }, filePart('a.txt', Buffer.from('a\n'), 'text/plain')],
    400,
    'VALIDATION_FAILED'
  )
  await expectRejected(t, 'no file', [{ name: 'conversationId', value: bob.userId }], 400, 'FILE_MISSING')

  const json = await h.app.inject({
    method: 'POST',
    url: '/api/files',
    headers: { ...(await h.as(alice)), 'content-type': 'application/json' },
    payload: { name: 'x' }
  })
  t.equal(json.statusCode, 415)
  await assertNothingLeft(t, 'json')

  const body = multipart([filePart('cut.txt', Buffer.alloc(5000, 0x61), 'text/plain')])
  const truncated = body.payload.subarray(0, 3000)
  const cut = await h.app.inject({
    method: 'POST',
    url: '/api/files',
    headers: { ...(await h.as(alice)), ...body.headers, 'content-length': String(truncated.length) },
    payload: truncated
  })
  t.equal(cut.statusCode, 400, 'a body that ends inside the file part')
  t.equal(cut.json().code, 'MALFORMED_BODY')
  await assertNothingLeft(t, 'truncated body')
})

t.test('identity: none or forged is 401, and nothing is stored', async (t) => {
  const body = multipart([filePart('a.txt', Buffer.from('a\n'), 'text/plain')])
  const anonymous = await h.app.inject({ method: 'POST', url: '/api/files', headers: body.headers, payload: body.payload })
  t.equal(anonymous.statusCode, 401)
  const forged = await h.app.inject({
    method: 'POST',
    url: '/api/files',
    headers: { ...(await h.as(alice)), 'x-authenticated-user': bob.userId, ...body.headers },
    payload: body.payload
  })
  t.equal(forged.statusCode, 401, "alice's assertion does not make her bob")
  await assertNothingLeft(t, 'unauthenticated')
})

t.test('failures after the bytes were received leave nothing either', async (t) => {
  // Chat does not run in this harness: a membership check cannot be answered → 503, nothing kept.
  await expectRejected(
    t,
    'chat unavailable',
    [{ name: 'conversationId', value: bob.userId }, filePart('a.txt', Buffer.from('a\n'), 'text/plain')],
    503,
    'SERVICE_UNAVAILABLE'
  )

  // A commit that fails after the blob was renamed into place (a deferred trigger fires at COMMIT).
  await h.app.pg.query(`
    CREATE FUNCTION files.fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'commit refused'; END $$;
    CREATE CONSTRAINT TRIGGER fail_commit AFTER INSERT ON files.files DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION files.fail_commit();`)
  t.teardown(() => h.app.pg.query('DROP TRIGGER IF EXISTS fail_commit ON files.files; DROP FUNCTION IF EXISTS files.fail_commit()'))
  const res = await upload(h, alice, [filePart('a.txt', Buffer.from('a\n'), 'text/plain')])
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'INTERNAL')
  await assertNothingLeft(t, 'failed commit')
})

t.test('GET /api/files/limits tells a client what the upload checks will refuse', async (t) => {
  const r = await h.app.inject({ url: '/api/files/limits', headers: await h.as(alice) })
  t.equal(r.statusCode, 200)
  const limits = r.json() as { maxBytes: number; types: { type: string; extensions: string[] }[] }
  t.equal(limits.maxBytes, MAX, 'the configured FILES_MAX_BYTES, not a constant')
  t.same(
    limits.types.find((x) => x.type === 'image/png'),
    { type: 'image/png', extensions: ['png'] }
  )
  t.ok(limits.types.find((x) => x.type === 'text/plain')?.extensions.includes('txt'))
  for (const active of ['text/html', 'image/svg+xml', 'application/xml', 'text/javascript'])
    t.notOk(
      limits.types.some((x) => x.type === active),
      `${active} is not offered`
    )
  t.equal(
    (limits as unknown as { shareLinks: string }).shareLinks,
    'signed-in',
    'the share-link policy (the default), so clients can hide Share when it is off'
  )
  t.equal((await h.app.inject({ url: '/api/files/limits' })).statusCode, 401, 'only for signed-in users, like every files route')
})

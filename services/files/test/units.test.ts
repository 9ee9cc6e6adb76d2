import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { test } from 'tap'
import { FILE_NAME_MAX_BYTES } from '@palisade/contracts'
import { contentDisposition, sanitizeFileName, withTypeExtension } from '../src/upload/filename.js'
import { etagMatches, parseRange } from '../src/http/range.js'
import { Utf8Validator, utf8Prefix } from '../src/upload/utf8.js'
import { declaredTypeAgrees, looksLikeMarkup, sniffType } from '../src/upload/sniff.js'
import { parseClamdAddress, parseClamdReply } from '../src/scan/clamd.js'
import { DiskBlobStore } from '../src/storage/disk-store.js'
import { png, storageDirFor } from './helpers.js'

const bytes = (s: string) => Buffer.byteLength(s, 'utf8')

test('file names become harmless metadata', async (t) => {
  t.equal(sanitizeFileName('../../etc/passwd'), 'passwd')
  t.equal(sanitizeFileName('..\\..\\Windows\\System32\\cmd.exe'), 'cmd.exe')
  t.equal(sanitizeFileName('C:\\Users\\a\\report.pdf'), 'report.pdf')
  t.equal(sanitizeFileName('%2e%2e%2fetc%2fpasswd'), '%2e%2e%2fetc%2fpasswd', 'percent escapes stay literal text; nothing decodes them into a path')
  t.equal(sanitizeFileName('..'), 'file')
  t.equal(sanitizeFileName('.'), 'file')
  t.equal(sanitizeFileName(''), 'file')
  t.equal(sanitizeFileName(undefined), 'file')
  t.equal(sanitizeFileName('a\u0000b.txt'), 'ab.txt', 'NUL removed')
  t.equal(sanitizeFileName('line\r\nbreak.txt'), 'linebreak.txt')
  t.equal(sanitizeFileName('invoice\u202Efdp.exe'), 'invoicefdp.exe', 'right-to-left override removed')
  t.equal(sanitizeFileName('a\u2066b\u2069\u200Fc\u200Bd.txt'), 'abcd.txt', 'isolates, marks and zero-width removed')
  t.equal(sanitizeFileName('CON'), '_CON')
  t.equal(sanitizeFileName('nul.txt'), '_nul.txt')
  t.equal(sanitizeFileName('what?<>:"|*.txt'), 'what_______.txt')
  t.equal(sanitizeFileName('  .hidden. '), 'hidden')
  t.equal(sanitizeFileName('e\u0301te\u0301.txt'), 'été.txt', 'NFC')
  t.equal(sanitizeFileName('emoji 😀.png'), 'emoji 😀.png', 'astral characters survive')
  t.equal(sanitizeFileName('bad\ud800half.txt'), 'badhalf.txt', 'lone surrogate removed')

  const long = `${'é'.repeat(300)}.png`
  const fitted = sanitizeFileName(long)
  t.ok(bytes(fitted) <= FILE_NAME_MAX_BYTES, 'at most 255 bytes of UTF-8')
  t.ok(fitted.endsWith('.png'), 'extension kept')
  t.notOk(fitted.includes('\ufffd'), 'no character cut in half')
  const noExt = sanitizeFileName('x'.repeat(1000))
  t.equal(bytes(noExt), FILE_NAME_MAX_BYTES)

  t.equal(withTypeExtension('photo.JPG', 'image/jpeg'), 'photo.JPG')
  t.equal(withTypeExtension('report.html', 'text/plain'), 'report.html.txt')
  t.equal(withTypeExtension('evil.svg', 'image/png'), 'evil.svg.png')
  t.equal(withTypeExtension('notes', 'text/plain'), 'notes.txt')
  t.ok(bytes(withTypeExtension('a'.repeat(255), 'application/pdf')) <= FILE_NAME_MAX_BYTES)
})

test('Content-Disposition follows RFC 6266 with an ASCII fallback', async (t) => {
  t.equal(contentDisposition('attachment', 'report.pdf'), `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`)
  t.equal(contentDisposition('attachment', 'naïve résumé.txt'), `attachment; filename="naive resume.txt"; filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.txt`)
  t.equal(contentDisposition('inline', '日本.png'), `inline; filename="__.png"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.png`)
  t.equal(contentDisposition('attachment', `a"b\\c%d;e'f.txt`), `attachment; filename="a_b_c_d_e'f.txt"; filename*=UTF-8''a%22b%5Cc%25d%3Be%27f.txt`)
})

test('byte ranges', async (t) => {
  t.same(parseRange(undefined, 100), { kind: 'none' })
  t.same(parseRange('bytes=0-9', 100), { kind: 'range', start: 0, end: 9 })
  t.same(parseRange('bytes=90-', 100), { kind: 'range', start: 90, end: 99 })
  t.same(parseRange('bytes=-10', 100), { kind: 'range', start: 90, end: 99 })
  t.same(parseRange('bytes=-1000', 100), { kind: 'range', start: 0, end: 99 })
  t.same(parseRange('bytes=50-5000', 100), { kind: 'range', start: 50, end: 99 })
  t.same(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' })
  t.same(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' })
  t.same(parseRange('bytes=0-1,5-6', 100), { kind: 'none' }, 'several ranges: full answer')
  t.same(parseRange('bytes=9-1', 100), { kind: 'none' }, 'invalid range ignored')
  t.same(parseRange('items=0-1', 100), { kind: 'none' })
  t.same(parseRange('bytes=99999999999999999999-', 100), { kind: 'none' }, 'absurd numbers ignored')
  t.ok(etagMatches('"abc"', '"abc"'))
  t.ok(etagMatches('W/"abc", "x"', '"abc"'))
  t.ok(etagMatches('*', '"abc"'))
  t.notOk(etagMatches('"abd"', '"abc"'))
})

test('UTF-8 is validated across chunk boundaries', async (t) => {
  const text = Buffer.from('héllo wörld 😀 ✓')
  for (let cut = 1; cut < text.length; cut++) {
    const v = new Utf8Validator()
    v.push(text.subarray(0, cut))
    v.push(text.subarray(cut))
    t.ok(v.end(), `split at ${cut}`)
  }
  const invalid = [
    Buffer.from([0xc0, 0xaf]),
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0xf4, 0x90, 0x80, 0x80]),
    Buffer.from([0xff]),
    Buffer.from([0x61, 0xe2, 0x82])
  ]
  for (const b of invalid) {
    const v = new Utf8Validator()
    v.push(b)
    t.notOk(v.end(), `rejects ${b.toString('hex')}`)
  }
  const nul = new Utf8Validator()
  nul.push(Buffer.from('a\0b'))
  t.ok(nul.end())
  t.ok(nul.hasNul)
  t.equal(utf8Prefix(Buffer.from('ab😀').subarray(0, 4)).toString(), 'ab')
})

test('declared types and markup', async (t) => {
  t.ok(declaredTypeAgrees('image/png', 'image/png'))
  t.ok(declaredTypeAgrees('image/jpg', 'image/jpeg'))
  t.ok(declaredTypeAgrees('application/octet-stream', 'image/png'))
  t.ok(declaredTypeAgrees('', 'application/pdf'))
  t.ok(declaredTypeAgrees('text/markdown; charset=utf-8', 'text/plain'))
  t.ok(declaredTypeAgrees('video/mp4', 'audio/mp4'))
  t.notOk(declaredTypeAgrees('image/png', 'text/plain'))
  t.notOk(declaredTypeAgrees('text/html', 'text/plain'))
  t.notOk(declaredTypeAgrees('image/svg+xml', 'text/plain'))
  t.notOk(declaredTypeAgrees('application/javascript', 'text/plain'))
  t.notOk(declaredTypeAgrees('text/plain', 'image/png'), 'a part without Content-Type is text/plain (RFC 7578)')
  t.notOk(declaredTypeAgrees('image/gif', 'image/png'))
  t.ok(looksLikeMarkup(Buffer.from('\ufeff  \n<!DOCTYPE html><p>x')))
  t.ok(looksLikeMarkup(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg">')))
  t.ok(looksLikeMarkup(Buffer.from('<?xml version="1.0"?>')))
  t.ok(looksLikeMarkup(Buffer.from('<script>alert(1)</script>')))
  t.notOk(looksLikeMarkup(Buffer.from('# Notes\n<script> is mentioned later')))
  t.notOk(looksLikeMarkup(Buffer.from('<please read me>')))
})

test('clamd replies and addresses', async (t) => {
  t.same(parseClamdReply('stream: OK\0'), { verdict: 'clean' })
  t.same(parseClamdReply('stream: Eicar-Test-Signature FOUND\0'), { verdict: 'infected', signature: 'Eicar-Test-Signature' })
  t.throws(() => parseClamdReply('INSTREAM size limit exceeded. ERROR\0'), /size limit/)
  t.throws(() => parseClamdReply(''), /empty/)
  t.same(parseClamdAddress('tcp://127.0.0.1:3310'), { host: '127.0.0.1', port: 3310 })
  t.same(parseClamdAddress('clamav:3310'), { host: 'clamav', port: 3310 })
  t.same(parseClamdAddress('unix:/run/clamav/clamd.ctl'), { path: '/run/clamav/clamd.ctl' })
  t.same(parseClamdAddress('unix:///run/clamd.sock'), { path: '/run/clamd.sock' })
  t.throws(() => parseClamdAddress('http://x:1'))
})

test('sniffType: a PNG whose IHDR checksum does not match is refused', async (t) => {
  const good = png(8, 8)
  const bad = Buffer.from(good)
  bad[29] = bad[29]! ^ 0xff // first byte of the IHDR CRC
  // The same verdicts from the head kept in memory (the whole file) as from the stream.
  for (const whole of [true, false]) {
    const facts = (b: Buffer) => ({ head: b, imageHead: b, utf8: false, hasNul: true, whole })
    const open = (b: Buffer) => async () => {
      if (whole) throw new Error('the whole file is in memory: nothing to read back')
      return Readable.from([b], { objectMode: false })
    }
    t.same(await sniffType(open(good), facts(good)), { ok: true, type: 'image/png' }, `whole: ${whole}`)
    t.same(await sniffType(open(bad), facts(bad)), { ok: false, reason: 'the PNG header is malformed' }, `whole: ${whole}`)
  }
})

test('the blob store makes a shard directory again when it was removed after a commit', async (t) => {
  const store = new DiskBlobStore(await storageDirFor(t))
  await store.init()
  const put = async (id: string) => {
    const temp = await store.createTemp()
    await new Promise<void>((resolve, reject) => temp.stream.end(Buffer.from(id), (err?: Error | null) => (err ? reject(err) : resolve())))
    await store.commit(temp.path, id)
  }
  const first = 'ab000000-0000-4000-8000-000000000001'
  const second = 'ab000000-0000-4000-8000-000000000002'
  await put(first)
  await rm(join(store.objectsDir, 'ab'), { recursive: true })
  await put(second)
  t.equal(await readFile(store.objectPath(second), 'utf8'), second)
  t.same(await readdir(store.tmpDir), [], 'no temp file left')
})

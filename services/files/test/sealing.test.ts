import t from 'tap'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CHUNK_BYTES, IntegrityError, openRange, SealStream, sealedSize, TAG_BYTES, type SealedBlob } from '../src/crypto/chunked.js'
import { KeyRing, KeyRingError, newKekLine, parseKeyRing } from '../src/crypto/keyring.js'

// The blob format and key wrapping on their own, attacked the way someone holding a copy of the
// storage directory (or the database) could: moved, swapped, cut and edited bytes.
const dir = await mkdtemp(join(tmpdir(), 'palisade-seal-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

async function seal(plain: Buffer, fileId = randomUUID(), dataKey = randomBytes(32), pieces = 7_777): Promise<{ sealed: Buffer; blob: SealedBlob }> {
  const out: Buffer[] = []
  const source = Readable.from(
    (function* () {
      for (let off = 0; off < plain.length; off += pieces) yield plain.subarray(off, off + pieces)
    })()
  )
  await pipeline(
    source,
    new SealStream(dataKey, fileId),
    new Writable({
      write: (c, _e, cb) => {
        out.push(c)
        cb()
      }
    })
  )
  return { sealed: Buffer.concat(out), blob: { fileId, dataKey, size: plain.length, sha256: sha(plain) } }
}

async function read(sealed: Buffer, blob: SealedBlob, start = 0, end = blob.size - 1): Promise<Buffer> {
  const path = join(dir, randomUUID())
  await writeFile(path, sealed)
  const parts: Buffer[] = []
  for await (const c of openRange(await open(path, 'r'), blob, start, end)) parts.push(c)
  return Buffer.concat(parts)
}

const chunkAt = (i: number) => i * (CHUNK_BYTES + TAG_BYTES)

t.test('round trip at every interesting size, and only tags as overhead', async (t) => {
  for (const size of [1, 15, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES, 3 * CHUNK_BYTES + 17]) {
    const plain = randomBytes(size)
    const { sealed, blob } = await seal(plain)
    t.equal(sealed.length, sealedSize(size), `${size}: size on disk`)
    t.same(await read(sealed, blob), plain, `${size}: full read`)
    if (size >= 16) t.notOk(sealed.includes(plain.subarray(0, 16)), `${size}: no plaintext on disk`)
  }
})

t.test('ranges decrypt the chunks they touch', async (t) => {
  const plain = randomBytes(3 * CHUNK_BYTES + 100)
  const { sealed, blob } = await seal(plain)
  for (const [s, e] of [
    [0, 0],
    [CHUNK_BYTES - 3, CHUNK_BYTES + 3],
    [CHUNK_BYTES, 2 * CHUNK_BYTES - 1],
    [plain.length - 1, plain.length - 1],
    [10, plain.length - 1]
  ] as const) {
    t.same(await read(sealed, blob, s, e), plain.subarray(s, e + 1), `bytes ${s}-${e}`)
  }
  // Chunk 2 destroyed: a range inside chunk 0 is still served, because only chunk 0 is read.
  const broken = Buffer.from(sealed)
  broken.fill(0, chunkAt(2), chunkAt(2) + 100)
  t.same(await read(broken, blob, 5, 50), plain.subarray(5, 51), 'a range never reads chunks outside it')
  await t.rejects(read(broken, blob, CHUNK_BYTES * 2 + 1, CHUNK_BYTES * 2 + 10), IntegrityError, 'a range over a damaged chunk fails')
})

t.test('tampering of every kind fails authentication', async (t) => {
  const plain = randomBytes(3 * CHUNK_BYTES + 100)
  const { sealed, blob } = await seal(plain)

  const flipped = Buffer.from(sealed)
  flipped[chunkAt(1) + 10]! ^= 1
  await t.rejects(read(flipped, blob), IntegrityError, 'one flipped bit')

  const reordered = Buffer.concat([sealed.subarray(chunkAt(1), chunkAt(2)), sealed.subarray(0, chunkAt(1)), sealed.subarray(chunkAt(2))])
  await t.rejects(read(reordered, blob), IntegrityError, 'two chunks swapped in place')

  const other = await seal(randomBytes(plain.length), randomUUID(), blob.dataKey)
  const spliced = Buffer.concat([sealed.subarray(0, chunkAt(1)), other.sealed.subarray(chunkAt(1), chunkAt(2)), sealed.subarray(chunkAt(2))])
  await t.rejects(read(spliced, blob), IntegrityError, 'a chunk from another file, even under the same data key, fails (file id in the AAD)')
  await t.rejects(read(other.sealed, blob), IntegrityError, 'a whole blob moved onto another file id fails')

  // Cut after two full chunks and claim that size: chunk 1 was sealed as "not last".
  const cut = sealed.subarray(0, chunkAt(2))
  await t.rejects(read(cut, { ...blob, size: 2 * CHUNK_BYTES, sha256: sha(plain.subarray(0, 2 * CHUNK_BYTES)) }), IntegrityError, 'truncation at a chunk edge')
  await t.rejects(read(sealed.subarray(0, sealed.length - 1), blob), /bytes, expected/, 'a blob of the wrong length is refused before decrypting')
  await t.rejects(read(Buffer.concat([sealed, Buffer.alloc(1)]), blob), IntegrityError, 'appended bytes too')

  await t.rejects(read(sealed, { ...blob, dataKey: randomBytes(32) }), IntegrityError, 'another data key')
  await t.rejects(read(sealed, { ...blob, sha256: sha(Buffer.from('something else')) }), /hash does not match/, 'a row whose hash disagrees')
})

t.test('a full read releases the last chunk only after the hash matched', async (t) => {
  const plain = randomBytes(2 * CHUNK_BYTES + 5)
  const { sealed, blob } = await seal(plain)
  const path = join(dir, randomUUID())
  await writeFile(path, sealed)
  const got: Buffer[] = []
  await t.rejects(
    (async () => {
      for await (const c of openRange(await open(path, 'r'), { ...blob, sha256: sha(Buffer.from('x')) }, 0, plain.length - 1)) got.push(c)
    })(),
    IntegrityError
  )
  t.ok(Buffer.concat(got).length < plain.length, 'the client never got the whole file')
})

t.test('key ring: parsing, wrapping bound to the file, rotation', async (t) => {
  t.throws(() => parseKeyRing(''), KeyRingError)
  t.throws(() => parseKeyRing('nokey'), /needs an id/)
  t.throws(() => parseKeyRing(`a:${randomBytes(16).toString('base64')}`), /32 bytes/)
  const line = newKekLine()
  t.throws(() => parseKeyRing(`${line}\n${line}`), /twice/)
  const secret = line.slice(line.indexOf(':') + 1)
  try {
    parseKeyRing(`bad id:${secret}`)
  } catch (err) {
    t.notOk((err as Error).message.includes(secret), 'errors never echo key material')
  }

  const oldLine = newKekLine()
  const old = new KeyRing(parseKeyRing(oldLine))
  const fileId = randomUUID()
  const { dataKey, ...wrapped } = old.newDataKey(fileId)
  t.same(old.unwrap(wrapped, fileId), dataKey)
  t.throws(() => old.unwrap(wrapped, randomUUID()), /does not authenticate/, 'a wrapped key copied onto another row does not unwrap')
  t.throws(() => old.unwrap({ ...wrapped, keyId: 'other' }, fileId), /no key-encryption key/)

  const rotated = new KeyRing(parseKeyRing(`${newKekLine()}\n${oldLine}`))
  t.same(rotated.unwrap(wrapped, fileId), dataKey, 'the old key still unwraps after a new one is put first')
  const rewrapped = rotated.rewrap(wrapped, fileId)
  t.equal(rewrapped.keyId, rotated.current.id)
  t.same(rotated.unwrap(rewrapped, fileId), dataKey, 'same data key: the blob needs no re-encryption')
  t.throws(() => old.unwrap(rewrapped, fileId), /no key-encryption key/, 'after rotation the old ring alone cannot read it')
})

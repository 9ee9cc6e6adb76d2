import t from 'tap'
import { imageDimensions } from '../src/upload/dimensions.js'
import { filePart, png, startFiles, upload } from './helpers.js'

const h = await startFiles(t)
const alice = await h.stack.createUser({ displayName: 'Alice' })

/** A JPEG marker segment: FF, marker, 16-bit length (itself included), payload. */
function segment(marker: number, payload: Buffer): Buffer {
  const head = Buffer.from([0xff, marker, 0, 0])
  head.writeUInt16BE(payload.length + 2, 2)
  return Buffer.concat([head, payload])
}

/** An APP1 Exif segment carrying only an orientation tag (big-endian TIFF, one IFD entry). */
function exifOrientation(orientation: number): Buffer {
  const tiff = Buffer.alloc(8 + 2 + 12 + 4)
  tiff.write('MM\0*', 0, 'latin1')
  tiff.writeUInt32BE(8, 4)
  tiff.writeUInt16BE(1, 8)
  tiff.writeUInt16BE(0x0112, 10) // orientation
  tiff.writeUInt16BE(3, 12) // SHORT
  tiff.writeUInt32BE(1, 14)
  tiff.writeUInt16BE(orientation, 18)
  return segment(0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]))
}

/**
 * The header of a baseline JPEG `width`×`height` (SOI, APP0, optional extra segments, SOF0, EOI):
 * what the sniffer and the size reader look at; no scan data is needed for either.
 */
function jpeg(width: number, height: number, extra: Buffer[] = []): Buffer {
  const app0 = segment(0xe0, Buffer.from([0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]))
  const sof = Buffer.alloc(15)
  sof[0] = 8
  sof.writeUInt16BE(height, 1)
  sof.writeUInt16BE(width, 3)
  sof[5] = 3
  for (let c = 0; c < 3; c++) sof.set([c + 1, 0x11, 0], 6 + c * 3)
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, ...extra, segment(0xc0, sof), Buffer.from([0xff, 0xd9])])
}

/** An APPn segment of `n` filler bytes (ICC profiles and EXIF thumbnails sit before the frame header). */
const filler = (n: number) => segment(0xe2, Buffer.alloc(n, 0x20))

t.test('the size is read from the header of PNGs and JPEGs', async (t) => {
  t.same(imageDimensions('image/png', png(37, 11)), { width: 37, height: 11 })
  t.same(imageDimensions('image/jpeg', jpeg(640, 480)), { width: 640, height: 480 })
  t.same(
    imageDimensions('image/jpeg', jpeg(640, 480, [exifOrientation(6)])),
    { width: 480, height: 640 },
    'EXIF rotation 90°: displayed with the sides swapped'
  )
  t.same(imageDimensions('image/jpeg', jpeg(640, 480, [exifOrientation(3)])), { width: 640, height: 480 }, 'rotation 180°: same sides')
  t.equal(imageDimensions('application/pdf', Buffer.from('%PDF-1.4\n')), null, 'not an image')
})

t.test('a header that lies gives no size, never a wrong one', async (t) => {
  const huge = png(4, 4)
  huge.writeUInt32BE(100_000, 16) // IHDR width past any real image (and past JPEG's own limit)
  t.equal(imageDimensions('image/png', huge), null, 'a side beyond 65 535 px')
  t.equal(imageDimensions('image/png', jpeg(10, 10)), null, 'the bytes are another type than the sniffed one')
  t.equal(imageDimensions('image/jpeg', jpeg(0, 10)), null, 'a zero side')
  const cut = jpeg(640, 480, [filler(60_000)])
  t.equal(imageDimensions('image/jpeg', cut.subarray(0, 30_000)), null, 'the frame header past the bytes kept')
  t.equal(imageDimensions('image/jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0xff, 0xff, 0x00])), null, 'garbage after the signature')
})

t.test('an upload stores the size read from its plaintext and the metadata carries it', async (t) => {
  const wide = await upload(h, alice, [filePart('wide.png', png(48, 12), 'image/png')])
  t.equal(wide.statusCode, 201)
  t.match(wide.json(), { type: 'image/png', width: 48, height: 12 })
  const get = await h.app.inject({ url: `/api/files/${wide.json().id}`, headers: await h.as(alice) })
  t.match(get.json(), { width: 48, height: 12 }, 'read back from the database, not from the sealed blob')

  // Two 60 KB segments before the frame header: beyond the sniffer's 64 KiB head, within the image head.
  const photo = jpeg(1200, 900, [exifOrientation(8), filler(60_000), filler(60_000)])
  const tall = await upload(h, alice, [filePart('photo.jpg', photo, 'image/jpeg')])
  t.equal(tall.statusCode, 201)
  t.match(tall.json(), { type: 'image/jpeg', width: 900, height: 1200 })

  const lying = png(4, 4)
  lying.writeUInt32BE(70_000, 20) // height past the limit; CRC fixed so the sniffer accepts the PNG
  lying.writeUInt32BE(pngCrc(lying.subarray(12, 29)), 29)
  const lied = await upload(h, alice, [filePart('lie.png', lying, 'image/png')])
  t.equal(lied.statusCode, 201, 'still a file the service accepts')
  t.match(lied.json(), { width: null, height: null }, 'but no size is claimed for it')

  const text = await upload(h, alice, [filePart('a.txt', Buffer.from('hello\n'), 'text/plain')])
  t.match(text.json(), { width: null, height: null })
})

function pngCrc(buf: Buffer): number {
  let c = 0xffffffff
  for (const b of buf) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  }
  return (c ^ 0xffffffff) >>> 0
}

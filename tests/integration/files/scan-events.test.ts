import t from 'tap'
import { createServer, type Socket } from 'node:net'
import { gatewayHarness, sleep } from '../gateway/helpers.js'
import { filePart, startFiles, upload } from '../../../services/files/test/helpers.js'

// The end of a malware scan reaches the uploader and the conversation's members as a WebSocket
// frame through the real gateway (files → NATS → gateway), with chat saying who the members are.
// A minimal clamd (INSTREAM, always "OK") stands in for ClamAV; everything of ours is real.
const clamd = createServer((socket: Socket) => {
  let buf = Buffer.alloc(0)
  socket.on('error', () => {})
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d])
    // after the command, frames: a zero-length one ends the stream
    let off = buf.indexOf(0) + 1
    while (off > 0 && off + 4 <= buf.length) {
      const len = buf.readUInt32BE(off)
      if (len === 0) return void socket.end('stream: OK\0')
      off += 4 + len
    }
  })
})
await new Promise<void>((r) => clamd.listen(0, '127.0.0.1', r))
t.teardown(() => new Promise((r) => clamd.close(r)))
const clamdPort = (clamd.address() as { port: number }).port

const g = await gatewayHarness(t)
const files = await startFiles(
  t,
  { FILES_SCAN_MODE: 'clamd', FILES_CLAMD_ADDRESS: `tcp://127.0.0.1:${clamdPort}`, FILES_SCAN_RETRY_SECONDS: 1 },
  { stack: g.stack }
)
const alice = await g.stack.createUser()
const bob = await g.stack.createUser()
const carol = await g.stack.createUser()
const conv = await g.createConversation(alice, 'scans', [bob])

t.test('uploader and members get file.scanned over their sockets; others do not', async (t) => {
  const [a, b, c] = [await g.connect(alice), await g.connect(bob), await g.connect(carol)]
  const up = await upload(files, alice, [{ name: 'conversationId', value: conv.id }, filePart('report.txt', Buffer.from('quarterly numbers\n'), 'text/plain')])
  t.equal(up.statusCode, 201)
  t.equal(up.json().status, 'pending')
  const id: string = up.json().id
  const isScan = (f: { type: string; fileId?: unknown }) => f.type === 'file.scanned' && f.fileId === id
  const [fa, fb] = await Promise.all([a.waitFor(isScan, 15_000), b.waitFor(isScan, 15_000)])
  t.match(fa, { type: 'file.scanned', fileId: id, conversationId: conv.id, status: 'clean' }, 'the uploader')
  t.match(fb, { status: 'clean' }, 'a member')
  await sleep(300)
  t.notOk(c.frames.some(isScan), 'a stranger hears nothing of it')
  const content = await files.app.inject({ url: `/api/files/${id}/content`, headers: await files.as(bob) })
  t.equal(content.statusCode, 200, 'and the file is served from then on')
})

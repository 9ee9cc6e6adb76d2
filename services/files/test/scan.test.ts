import t from 'tap'
import { createServer, type Server, type Socket } from 'node:net'
import { Readable } from 'node:stream'
import { FilesTextGet } from '@palisade/contracts'
import { connectNats, natsRequest } from '@palisade/platform'
import { clamdInstream } from '../src/scan/clamd.js'
import { filePart, startFiles, upload, waitFor } from './helpers.js'

/**
 * A tiny clamd: speaks INSTREAM (`zINSTREAM\0`, 4-byte big-endian length frames, zero-length end)
 * and answers `stream: OK` or `stream: <sig> FOUND` like the real daemon. It stands in for the
 * third-party scanner only; everything of ours in these tests is real.
 */
class FakeClamd {
  server: Server
  port = 0
  /** `ok`: answer; `down`: drop connections; `hold`: answer only after release() */
  mode: 'ok' | 'down' | 'hold' = 'ok'
  /** answer `INSTREAM size limit exceeded` once a stream passes this many bytes */
  streamMaxLength = Infinity
  scans: { bytes: Buffer; frames: number[] }[] = []
  private held: (() => void)[] = []

  constructor() {
    this.server = createServer((socket) => this.handle(socket))
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    this.port = (this.server.address() as { port: number }).port
  }

  heldCount(): number {
    return this.held.length
  }

  release(): void {
    this.mode = 'ok'
    for (const fn of this.held.splice(0)) fn()
  }

  private handle(socket: Socket): void {
    if (this.mode === 'down') return void socket.destroy()
    let buf = Buffer.alloc(0)
    let commandSeen = false
    const frames: number[] = []
    const data: Buffer[] = []
    let total = 0
    let done = false
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      if (done) return
      buf = Buffer.concat([buf, chunk])
      if (!commandSeen) {
        const nul = buf.indexOf(0)
        if (nul === -1) return
        const command = buf.subarray(0, nul).toString('latin1')
        buf = buf.subarray(nul + 1)
        commandSeen = true
        if (command !== 'zINSTREAM') {
          done = true
          return void socket.end('UNKNOWN COMMAND\0')
        }
      }
      while (buf.length >= 4) {
        const len = buf.readUInt32BE(0)
        if (len === 0) {
          done = true
          frames.push(0)
          const bytes = Buffer.concat(data)
          this.scans.push({ bytes, frames })
          const reply = bytes.includes('EICAR-STANDARD-ANTIVIRUS-TEST-FILE') ? 'stream: Eicar-Test-Signature FOUND\0' : 'stream: OK\0'
          const answer = () => socket.end(reply)
          if (this.mode === 'hold') this.held.push(answer)
          else answer()
          return
        }
        if (buf.length < 4 + len) return
        frames.push(len)
        data.push(buf.subarray(4, 4 + len))
        total += len
        buf = buf.subarray(4 + len)
        if (total > this.streamMaxLength) {
          done = true
          return void socket.end('INSTREAM size limit exceeded. ERROR\0')
        }
      }
    })
  }
}

const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\n')

const clamd = new FakeClamd()
await clamd.start()
t.teardown(() => new Promise((r) => clamd.server.close(r)))

const h = await startFiles(t, {
  FILES_SCAN_MODE: 'clamd',
  FILES_CLAMD_ADDRESS: `tcp://127.0.0.1:${clamd.port}`,
  FILES_SCAN_RETRY_SECONDS: 1,
  FILES_CLAMD_TIMEOUT_MS: 5000
})
const alice = await h.stack.createUser()
const status = async (id: string) => (await h.app.pg.query('SELECT status FROM files.files WHERE id = $1', [id])).rows[0]?.status as string | undefined

t.test('files stay pending, and unserved, until clamd calls them clean', async (t) => {
  clamd.mode = 'hold'
  const events = await connectNats({ url: h.stack.natsUrl, name: 'events' })
  t.teardown(() => events.close())
  const seen: { type: string; fileId: string; status: string; conversationId: string | null }[] = []
  const sub = events.subscribe(`events.user.${alice.userId}`)
  void (async () => {
    for await (const m of sub) seen.push(m.json())
  })()
  await events.flush()
  const body = Buffer.alloc(200 * 1024, 0x61)
  const up = await upload(h, alice, [filePart('big.txt', body, 'text/plain')])
  t.equal(up.statusCode, 201)
  t.equal(up.json().status, 'pending')
  const id: string = up.json().id
  t.ok(await waitFor(async () => clamd.heldCount() === 1), 'clamd has the stream and is still thinking')

  const content = await h.app.inject({ url: `/api/files/${id}/content`, headers: await h.as(alice) })
  t.equal(content.statusCode, 409)
  t.equal(content.json().code, 'FILE_PENDING_SCAN')
  const nc = await connectNats({ url: h.stack.natsUrl, name: 'test' })
  t.teardown(() => nc.close())
  const text = await natsRequest(nc, FilesTextGet, { fileId: id }, { userId: alice.userId }).catch((e) => e)
  t.equal(text.statusCode, 409, 'not over NATS either')

  t.same(seen, [], 'no event while the scan runs')
  clamd.release()
  t.ok(await waitFor(async () => (await status(id)) === 'clean'), 'marked clean')
  t.ok(await waitFor(async () => seen.length > 0), 'the uploader hears of it without polling')
  t.match(seen, [{ type: 'file.scanned', fileId: id, status: 'clean', conversationId: null }])
  const scan = clamd.scans.at(-1)!
  t.same(scan.bytes, body, 'clamd received exactly the stored bytes')
  t.ok(scan.frames.length > 2 && scan.frames.slice(0, -1).every((n) => n > 0 && n <= 64 * 1024), 'in frames of at most 64 KiB')
  t.equal(scan.frames.at(-1), 0, 'ended by a zero-length frame')
  const served = await h.app.inject({ url: `/api/files/${id}/content`, headers: await h.as(alice) })
  t.equal(served.statusCode, 200)
  t.equal(served.rawPayload.length, body.length)
})

t.test('an infected file is never served and its bytes are deleted', async (t) => {
  const up = await upload(h, alice, [filePart('eicar.txt', EICAR, 'text/plain')])
  t.equal(up.statusCode, 201)
  const id: string = up.json().id
  t.ok(await waitFor(async () => (await status(id)) === 'infected'), 'marked infected')
  const row = await h.app.pg.query('SELECT scan_signature FROM files.files WHERE id = $1', [id])
  t.equal(row.rows[0].scan_signature, 'Eicar-Test-Signature')
  const content = await h.app.inject({ url: `/api/files/${id}/content`, headers: await h.as(alice) })
  t.equal(content.statusCode, 409)
  t.equal(content.json().code, 'FILE_INFECTED')
  t.notOk(
    (await h.listStorage()).some((p) => p.endsWith(id)),
    'the bytes are gone'
  )
  const meta = await h.app.inject({ url: `/api/files/${id}`, headers: await h.as(alice) })
  t.equal(meta.json().status, 'infected', 'the owner can see what happened')
  const del = await h.app.inject({ method: 'DELETE', url: `/api/files/${id}`, headers: await h.as(alice) })
  t.equal(del.statusCode, 204, 'and delete the row')
})

t.test('clamd unreachable: the file waits and is scanned once clamd is back', async (t) => {
  clamd.mode = 'down'
  const up = await upload(h, alice, [filePart('later.txt', Buffer.from('later\n'), 'text/plain')])
  const id: string = up.json().id
  t.ok(
    await waitFor(async () => {
      const r = await h.app.pg.query('SELECT scan_attempts FROM files.files WHERE id = $1', [id])
      return r.rows[0].scan_attempts >= 1
    }),
    'a failed attempt is recorded'
  )
  t.equal(await status(id), 'pending')
  clamd.mode = 'ok'
  t.ok(await waitFor(async () => (await status(id)) === 'clean', 8000), 'retried and clean')
})

t.test('the INSTREAM client reports clamd refusing an oversized stream as a failure', async (t) => {
  clamd.streamMaxLength = 100_000
  t.teardown(() => {
    clamd.streamMaxLength = Infinity
  })
  const source = Readable.from(
    (function* () {
      for (let i = 0; i < 64; i++) yield Buffer.alloc(64 * 1024, 0x62)
    })()
  )
  await t.rejects(clamdInstream({ host: '127.0.0.1', port: clamd.port }, source, 5000), /size limit exceeded/)
  await t.rejects(clamdInstream({ host: '127.0.0.1', port: 1 }, Readable.from([Buffer.from('x')]), 2000), 'connection refused is an error, not a verdict')
})

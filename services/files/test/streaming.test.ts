import t from 'tap'
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { baseUrl } from '@palisade/testkit'
import { filePart, multipart, startFiles, upload, waitFor } from './helpers.js'

// Over real sockets: what inject cannot show (a client vanishing mid-upload, bodies the server
// refuses while they are still arriving, chunked bodies without a length).
const MiB = 1024 * 1024
const MAX = 4 * MiB
const h = await startFiles(t, { FILES_MAX_BYTES: MAX, FILES_MAX_CONCURRENT_UPLOADS_PER_USER: 1 }, { listen: true })
const url = new URL(baseUrl(h.app))
const alice = await h.stack.createUser()

function send(body: Buffer, headers: Record<string, string>, opts: { chunked?: boolean } = {}): Promise<{ status: number; json: { code?: string } }> {
  return new Promise((resolve, reject) => {
    const hdrs = { ...headers }
    if (opts.chunked) delete hdrs['content-length']
    const req = request({ host: url.hostname, port: url.port, method: 'POST', path: '/api/files', headers: hdrs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') }))
    })
    // The server may answer and stop reading before we are done writing: that is the point.
    req.on('error', (err) =>
      (err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)
    )
    let off = 0
    const step = 256 * 1024
    const pump = () => {
      while (off < body.length) {
        const ok = req.write(body.subarray(off, off + step))
        off += step
        if (!ok) return void req.once('drain', pump)
      }
      req.end()
    }
    pump()
  })
}

async function tempFiles(): Promise<string[]> {
  return (await h.listStorage()).filter((p) => p.startsWith('tmp'))
}

t.test('an upload aborted mid-stream leaves no temp file and no row, and frees its slot', async (t) => {
  const headers = await h.as(alice)
  const body = multipart([filePart('big.txt', Buffer.alloc(3 * MiB, 0x61), 'text/plain')])
  const socket = connect(Number(url.port), url.hostname)
  await new Promise((r) => socket.once('connect', r))
  const head = Object.entries({ ...headers, ...body.headers, host: url.host })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')
  socket.write(`POST /api/files HTTP/1.1\r\n${head}\r\n`)
  socket.write(body.payload.subarray(0, MiB))

  t.ok(await waitFor(async () => (await tempFiles()).length === 1), 'the upload is being streamed to a temp file')
  const [temp] = await tempFiles()
  t.ok(await waitFor(async () => (await stat(join(h.storageDir, temp!))).size > 512 * 1024), 'bytes reach the disk as they arrive')

  const second = await upload(h, alice, [filePart('small.txt', Buffer.from('hi\n'), 'text/plain')])
  t.equal(second.statusCode, 429, 'one upload in flight per user here')
  t.equal(second.json().code, 'TOO_MANY_CONCURRENT_UPLOADS')

  socket.destroy()
  t.ok(await waitFor(async () => (await h.listStorage()).length === 0), 'temp file removed after the client went away')
  t.equal(await h.rowCount(), 0)
  t.ok(
    await waitFor(async () => (await upload(h, alice, [filePart('after.txt', Buffer.from('ok\n'), 'text/plain')])).statusCode === 201),
    'the aborted upload gave its slot back'
  )
})

t.test('refusals reach a client that is still sending', async (t) => {
  const headers = await h.as(alice)
  const before = await h.listStorage()

  const tooBig = multipart([filePart('big.txt', Buffer.alloc(MAX + 1, 0x61), 'text/plain')])
  const streamed = await send(tooBig.payload, { ...headers, ...tooBig.headers })
  t.equal(streamed.status, 413, 'cut off while streaming')
  t.equal(streamed.json.code, 'FILE_TOO_LARGE')

  const chunked = await send(tooBig.payload, { ...headers, ...tooBig.headers }, { chunked: true })
  t.equal(chunked.status, 413, 'no Content-Length: still cut off at the limit')
  t.equal(chunked.json.code, 'FILE_TOO_LARGE')

  const huge = multipart([filePart('huge.txt', Buffer.alloc(3 * MAX, 0x61), 'text/plain')])
  const early = await send(huge.payload, { ...headers, ...huge.headers })
  t.equal(early.status, 413, 'refused from its Content-Length')
  t.equal(early.json.code, 'FILE_TOO_LARGE')

  const html = multipart([filePart('x.png', Buffer.concat([Buffer.from('<html>'), Buffer.alloc(MiB, 0x20)]), 'image/png')])
  const spoofed = await send(html.payload, { ...headers, ...html.headers })
  t.equal(spoofed.status, 415)

  t.ok(await waitFor(async () => (await h.listStorage()).length === before.length), 'nothing new left in storage')
  const fine = multipart([filePart('fine.txt', Buffer.from('fine\n'), 'text/plain')])
  t.equal((await send(fine.payload, { ...headers, ...fine.headers })).status, 201, 'and uploads still work')
})

t.test('a rate-limited upload is answered and its connection closed, not left holding the unread body', async (t) => {
  const limited = await startFiles(t, { FILES_MAX_BYTES: MAX, FILES_UPLOADS_PER_MINUTE: 1 }, { stack: h.stack, listen: true })
  const target = new URL(baseUrl(limited.app))
  const agent = new Agent({ keepAlive: true })
  t.teardown(() => agent.destroy())
  // Someone who has not uploaded yet: the budget is one for every instance, this test's `h` included.
  const headers = await limited.as(await h.stack.createUser())
  const body = multipart([filePart('big.txt', Buffer.alloc(2 * MiB, 0x61), 'text/plain')])
  const post = () =>
    new Promise<{ status: number; closed: Promise<unknown> }>((resolve, reject) => {
      const req = request(
        { host: target.hostname, port: target.port, method: 'POST', path: '/api/files', headers: { ...headers, ...body.headers }, agent },
        (res) => {
          const closed = new Promise((r) => res.socket.once('close', r))
          res.resume()
          res.on('end', () => resolve({ status: res.statusCode ?? 0, closed }))
        }
      )
      req.on('error', (err) =>
        (err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err)
      )
      req.end(body.payload)
    })
  t.equal((await post()).status, 201)
  const second = await post()
  t.equal(second.status, 429)
  const closed = await Promise.race([second.closed.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))])
  t.ok(closed, 'the server closed the connection')
})

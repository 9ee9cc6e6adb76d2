import t from 'tap'
import { connect } from 'node:net'
import { baseUrl } from '@palisade/testkit'
import { startTestStack } from '../helpers/stack.js'
import { createEdge } from '@palisade/scripts/edge'
import { png, startFiles, waitFor } from '../../../services/files/test/helpers.js'

// End to end through the local edge (ForwardAuth semantics, as Traefik in production): the client
// has only its access token; identity reaches the files service from auth's /verify via the edge.
const stack = await startTestStack(t)
const h = await startFiles(t, { FILES_MAX_BYTES: 1024 * 1024 }, { stack, listen: true })
const edge = createEdge({ upstreams: { auth: stack.authUrl, files: baseUrl(h.app) }, authVerifyUrl: `${stack.authUrl}/auth/verify` })
const edgePort = await edge.listen(0)
t.teardown(() => edge.close())
const edgeUrl = `http://127.0.0.1:${edgePort}`
const alice = await stack.createUser()
const bob = await stack.createUser()

const bearer = (u: { accessToken: string }) => ({ authorization: `Bearer ${u.accessToken}` })

function form(name: string, data: Buffer, type: string): FormData {
  const fd = new FormData()
  fd.append('file', new Blob([data], { type }), name)
  return fd
}

t.test('a browser-style upload and download through the edge', async (t) => {
  const image = png(32, 32)
  const up = await fetch(`${edgeUrl}/api/files`, { method: 'POST', headers: bearer(alice), body: form('../../photo.png', image, 'image/png') })
  t.equal(up.status, 201)
  const meta = (await up.json()) as { id: string; name: string; ownerId: string; sha256: string }
  t.equal(meta.name, 'photo.png')
  t.equal(meta.ownerId, alice.userId)

  const down = await fetch(`${edgeUrl}/api/files/${meta.id}/content`, { headers: bearer(alice) })
  t.equal(down.status, 200)
  t.same(Buffer.from(await down.arrayBuffer()), image)
  t.equal(down.headers.get('content-type'), 'image/png')
  t.equal(down.headers.get('content-disposition'), `attachment; filename="photo.png"; filename*=UTF-8''photo.png`)
  t.equal(down.headers.get('x-content-type-options'), 'nosniff')
  t.equal(down.headers.get('content-security-policy'), "sandbox; default-src 'none'")
  t.equal(down.headers.get('etag'), `"${meta.sha256}"`)

  const range = await fetch(`${edgeUrl}/api/files/${meta.id}/content`, { headers: { ...bearer(alice), range: 'bytes=0-7' } })
  t.equal(range.status, 206)
  t.same(Buffer.from(await range.arrayBuffer()), image.subarray(0, 8))

  const other = await fetch(`${edgeUrl}/api/files/${meta.id}/content`, { headers: bearer(bob) })
  t.equal(other.status, 404, "bob cannot read alice's file")
  const spoofed = await fetch(`${edgeUrl}/api/files/${meta.id}`, {
    headers: { ...bearer(bob), 'x-authenticated-user': alice.userId, X_Authenticated_User: alice.userId }
  })
  t.equal(spoofed.status, 404, 'client-sent identity headers are scrubbed by the edge')
  const anonymous = await fetch(`${edgeUrl}/api/files/${meta.id}`)
  t.equal(anonymous.status, 401)
})

t.test('refusals come back through the edge, and leave nothing behind', async (t) => {
  const before = await h.listStorage()
  const html = await fetch(`${edgeUrl}/api/files`, {
    method: 'POST',
    headers: bearer(alice),
    body: form('cat.png', Buffer.from('<html><script>alert(1)</script></html>'), 'image/png')
  })
  t.equal(html.status, 415)
  t.equal(((await html.json()) as { code: string }).code, 'UNSUPPORTED_FILE_TYPE')
  const big = await fetch(`${edgeUrl}/api/files`, {
    method: 'POST',
    headers: bearer(alice),
    body: form('big.txt', Buffer.alloc(1024 * 1024 + 1, 0x61), 'text/plain')
  })
  t.equal(big.status, 413)
  t.equal(((await big.json()) as { code: string }).code, 'FILE_TOO_LARGE')
  t.same(await h.listStorage(), before)
})

t.test('a client vanishing mid-upload through the edge leaves no temp file', async (t) => {
  const before = await h.listStorage()
  const boundary = 'edgeabort'
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n`
  const socket = connect(edgePort, '127.0.0.1')
  await new Promise((r) => socket.once('connect', r))
  socket.write(
    `POST /api/files HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${alice.accessToken}\r\n` +
      `Content-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${900 * 1024}\r\n\r\n${head}`
  )
  socket.write(Buffer.alloc(300 * 1024, 0x61))
  t.ok(await waitFor(async () => (await h.listStorage()).some((p) => p.startsWith('tmp'))), 'the upload streams through to a temp file')
  socket.destroy()
  t.ok(await waitFor(async () => (await h.listStorage()).length === before.length), 'and the temp file is gone')
  t.equal(await h.rowCount(), before.length)
})

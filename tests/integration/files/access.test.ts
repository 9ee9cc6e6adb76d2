import t from 'tap'
import { randomUUID } from 'node:crypto'
import { FilesMetaGet, FilesTextGet, NATS_HEADERS } from '@palisade/contracts'
import { connectNats, natsRequest, ProblemError } from '@palisade/platform'
import { buildService, type TestUser } from '@palisade/testkit'
import { startTestStack } from '../helpers/stack.js'
import chatApp from '@palisade/chat'
import { filePart, png, startFiles, upload, waitFor } from '../../../services/files/test/helpers.js'

// Membership comes from the real chat service (in-process, on the same NATS), never a stand-in.
const stack = await startTestStack(t)
const chat = await buildService(t, chatApp, stack.config(), { service: 'chat' })
const h = await startFiles(t, {}, { stack })

const alice = await stack.createUser({ displayName: 'Alice' })
const bob = await stack.createUser({ displayName: 'Bob' })
const carol = await stack.createUser({ displayName: 'Carol' })

async function chatAs(user: TestUser, method: string, url: string, payload?: unknown) {
  const headers = await stack.identityHeaders(user, { method, uri: url })
  return chat.inject({ method: method as 'GET', url, headers, ...(payload ? { payload: payload as object } : {}) })
}

const conv = await chatAs(alice, 'POST', '/api/chat/conversations', { title: 'Team', memberIds: [bob.userId] })
if (conv.statusCode !== 201) throw new Error(`chat did not create the conversation: ${conv.statusCode} ${conv.body}`)
const conversationId: string = conv.json().id

const shared = await upload(h, alice, [{ name: 'conversationId', value: conversationId }, filePart('plan.txt', Buffer.from('the plan\n'), 'text/plain')])
// (no assertions before the subtests: tap would end the root test while setup still awaits)
if (shared.statusCode !== 201) throw new Error(`shared upload failed: ${shared.statusCode} ${shared.body}`)
const sharedId: string = shared.json().id
const privateUp = await upload(h, alice, [filePart('diary.txt', Buffer.from('dear diary\n'), 'text/plain')])
const privateId: string = privateUp.json().id

const get = async (user: TestUser, url: string) => h.app.inject({ url, headers: await h.as(user) })

t.test('members of the conversation read a shared file; nobody else learns it exists', async (t) => {
  t.equal(shared.json().conversationId, conversationId)
  for (const url of [`/api/files/${sharedId}`, `/api/files/${sharedId}/content`]) {
    t.equal((await get(alice, url)).statusCode, 200, `owner: ${url}`)
    t.equal((await get(bob, url)).statusCode, 200, `member: ${url}`)
    t.equal((await get(carol, url)).statusCode, 404, `outsider: ${url}`)
  }
  t.equal((await get(bob, `/api/files/${sharedId}/content`)).body, 'the plan\n')
  for (const url of [`/api/files/${privateId}`, `/api/files/${privateId}/content`]) {
    t.equal((await get(bob, url)).statusCode, 404, `a private file is the owner's only, even for members: ${url}`)
  }

  // Another user's file and a file that does not exist answer alike: no existence oracle.
  const other = await get(carol, `/api/files/${privateId}`)
  const none = await get(carol, `/api/files/${randomUUID()}`)
  t.equal(other.statusCode, 404)
  t.same({ ...other.json(), instance: '' }, { ...none.json(), instance: '' })

  const listed = await get(bob, '/api/files')
  t.same(listed.json().files, [], "GET /api/files lists my own files, not others' shared ones")

  const bobDelete = await h.app.inject({ method: 'DELETE', url: `/api/files/${sharedId}`, headers: await h.as(bob) })
  t.equal(bobDelete.statusCode, 403, 'a member sees the file but only its owner deletes it')
  const carolDelete = await h.app.inject({ method: 'DELETE', url: `/api/files/${privateId}`, headers: await h.as(carol) })
  t.equal(carolDelete.statusCode, 404)
  t.equal(await h.rowCount(), 2, 'nothing deleted')
})

t.test('sharing with a conversation one does not belong to is refused and leaves nothing', async (t) => {
  const before = await h.listStorage()
  const res = await upload(h, carol, [{ name: 'conversationId', value: conversationId }, filePart('spam.txt', Buffer.from('spam\n'), 'text/plain')])
  t.equal(res.statusCode, 404)
  t.same(await h.listStorage(), before)
  t.equal(await h.rowCount(), 2)
  const unknown = await upload(h, carol, [{ name: 'conversationId', value: randomUUID() }, filePart('spam.txt', Buffer.from('spam\n'), 'text/plain')])
  t.equal(unknown.statusCode, 404)
})

t.test('NATS: files.meta.get and files.text.get act for the user in the header, with the same rule', async (t) => {
  const nc = await connectNats({ url: stack.natsUrl, name: 'test-caller' })
  t.teardown(() => nc.close())

  const meta = await natsRequest(nc, FilesMetaGet, { fileId: sharedId }, { userId: bob.userId })
  t.equal(meta.id, sharedId)
  t.equal(meta.conversationId, conversationId)
  const text = await natsRequest(nc, FilesTextGet, { fileId: sharedId }, { userId: bob.userId })
  t.same(text, { fileId: sharedId, name: 'plan.txt', size: 9, sha256: shared.json().sha256, text: 'the plan\n', truncated: false })
  const capped = await natsRequest(nc, FilesTextGet, { fileId: sharedId, maxBytes: 3 }, { userId: bob.userId })
  t.match(capped, { text: 'the', truncated: true })

  const outsider = await natsRequest(nc, FilesMetaGet, { fileId: sharedId }, { userId: carol.userId }).catch((e) => e)
  t.ok(outsider instanceof ProblemError)
  t.equal(outsider.statusCode, 404)
  const privateText = await natsRequest(nc, FilesTextGet, { fileId: privateId }, { userId: bob.userId }).catch((e) => e)
  t.equal(privateText.statusCode, 404)
  const nobody = await natsRequest(nc, FilesMetaGet, { fileId: sharedId }).catch((e) => e)
  t.equal(nobody.statusCode, 401, 'no acting user header, no answer')

  // The acting user can only travel in the header: a user id in the payload is a schema violation.
  const raw = await nc.request(FilesMetaGet.subject, JSON.stringify({ fileId: sharedId, userId: alice.userId }), { timeout: 2000 })
  t.equal(raw.headers?.get(NATS_HEADERS.serviceErrorCode), '400')

  const image = await upload(h, alice, [{ name: 'conversationId', value: conversationId }, filePart('p.png', png(), 'image/png')])
  const notText = await natsRequest(nc, FilesTextGet, { fileId: image.json().id }, { userId: bob.userId }).catch((e) => e)
  t.equal(notText.statusCode, 415)
  t.equal(notText.code, 'UNSUPPORTED_FILE_TYPE')
})

t.test('leaving the conversation ends access at once', async (t) => {
  const leave = await chatAs(bob, 'DELETE', `/api/chat/conversations/${conversationId}/members/${bob.userId}`)
  t.equal(leave.statusCode, 204)
  t.equal((await get(bob, `/api/files/${sharedId}`)).statusCode, 404)
  t.equal((await get(bob, `/api/files/${sharedId}/content`)).statusCode, 404)
  t.equal((await get(alice, `/api/files/${sharedId}`)).statusCode, 200)
})

t.test('deleting the conversation soft-deletes its files, for the owner too; private files stay', async (t) => {
  const del = await chatAs(alice, 'DELETE', `/api/chat/conversations/${conversationId}`)
  t.equal(del.statusCode, 204)
  t.ok(await waitFor(async () => (await get(alice, `/api/files/${sharedId}`)).statusCode === 404), "the conversation's file is gone for its owner")
  t.equal((await get(alice, `/api/files/${sharedId}/content`)).statusCode, 404)
  t.equal((await get(alice, `/api/files/${privateId}`)).statusCode, 200, 'a file never shared with it stays')
  const row = (await h.app.pg.query('SELECT delete_reason FROM files.files WHERE id = $1', [sharedId])).rows[0]
  t.equal(row.delete_reason, 'conversation', 'soft: restorable by an admin until the sweep')
})

import t from 'tap'
import { randomBytes, randomUUID } from 'node:crypto'
import { captureLogs } from '@palisade/platform/testing'
import { buildService, type TestUser } from '@palisade/testkit'
import filesApp, { type FilesAppConfig } from '../src/app.js'
import { newKekLine } from '../src/crypto/keyring.js'
import { filePart, harness, startFiles, upload } from './helpers.js'

// Share links attacked from outside: guessed, expired, revoked and used-up tokens, a deleted file,
// tokens looked for in logs and the database, and the answer's headers. (A creator who loses
// access: tests/integration/files/shares.test.ts, with the real chat.)
const logs = captureLogs()
// One key ring for every instance below (they share the storage directory).
const h = await startFiles(
  t,
  { SHARE_LINKS: 'public', LOG_LEVEL: 'info', SHARE_LINKS_OPENS_PER_MINUTE: 1000, FILES_KEYS: newKekLine() },
  { logStream: logs.stream }
)
// The installation's first account is its admin (roles come only from auth); the others are members.
const admin = await h.stack.createUser()
const alice = await h.stack.createUser()
const bob = await h.stack.createUser()

async function instance(overrides: Partial<FilesAppConfig>) {
  const config: FilesAppConfig = { ...h.config, ...overrides }
  return harness(h.stack, await buildService(t, filesApp, config, { service: 'files' }), h.storageDir, config)
}
const call = async (user: TestUser, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
  h.app.inject({ method, url, headers: await h.as(user), ...(payload ? { payload } : {}) })
const anonymous = (path: string, headers: Record<string, string> = {}) => h.app.inject({ url: path, headers })
async function share(user: TestUser, fileId: string, extra: object = {}) {
  const res = await call(user, 'POST', '/api/files/shares', { fileId, ...extra })
  if (res.statusCode !== 201) throw new Error(`share: ${res.statusCode} ${res.body}`)
  return res.json() as { link: { id: string; maxUses: number | null }; token: string; path: string }
}

const up = await upload(h, alice, [filePart('notes.txt', Buffer.from('shared notes\n'), 'text/plain')])
const fileId: string = up.json().id

t.test('a link opens the file without a session, as a hardened attachment', async (t) => {
  const s = await share(alice, fileId)
  t.match(s.token, /^[A-Za-z0-9_-]{43}$/, '256 bits, base64url')
  t.equal(s.path, `/s/${s.token}`)
  const res = await anonymous(s.path, { cookie: 'palisade_access=whatever' })
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'shared notes\n')
  t.match(res.headers['content-disposition'], /^attachment;/)
  t.match(res.headers['content-security-policy'], /sandbox/)
  t.match(res.headers['content-security-policy'], /default-src 'none'/)
  t.equal(res.headers['referrer-policy'], 'no-referrer')
  t.match(res.headers['x-robots-tag'], /noindex/)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['cache-control'], 'no-store')
  t.notOk(res.headers['set-cookie'], 'no cookie set')
  const signedIn = await call(bob, 'GET', `/api/files/shared/${s.token}`)
  t.equal(signedIn.statusCode, 200, 'the signed-in path works for any account')

  const stored = await h.app.pg.query('SELECT * FROM files.share_links WHERE id = $1', [s.link.id])
  t.notOk(JSON.stringify(stored.rows).includes(s.token), 'the token is not in the database, only its hash')
  const audit = await h.app.pg.query(`SELECT actor_id, detail FROM files.audit_events WHERE kind = 'share.opened' AND file_id = $1 ORDER BY id`, [fileId])
  t.same(
    audit.rows.map((r) => [r.actor_id, r.detail.linkId, r.detail.via]),
    [
      [null, s.link.id, 'public'],
      [bob.userId, s.link.id, 'signed-in']
    ],
    'every opening audited by link id'
  )
  t.notOk(JSON.stringify(audit.rows).includes(s.token), 'never by token')
})

t.test('guessed, malformed, expired, revoked and used-up tokens all get the same 404', async (t) => {
  const guessed = await anonymous(`/s/${randomBytes(32).toString('base64url')}`)
  t.equal(guessed.statusCode, 404)
  t.equal((await anonymous('/s/short')).statusCode, 404, 'a malformed token is just not found')
  t.equal((await anonymous(`/s/${'x'.repeat(200)}`)).statusCode, 400, 'an absurdly long one is refused by the schema')

  const expired = await share(alice, fileId)
  await h.app.pg.query(`UPDATE files.share_links SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.link.id])
  const e = await anonymous(expired.path)
  t.equal(e.statusCode, 404, 'expired: at once')
  t.same({ ...e.json(), instance: '' }, { ...guessed.json(), instance: '' }, 'indistinguishable from a guess')

  const revoked = await share(alice, fileId)
  t.equal((await call(bob, 'DELETE', `/api/files/shares/${revoked.link.id}`)).statusCode, 404, 'someone else cannot revoke (or see) it')
  t.equal((await anonymous(revoked.path)).statusCode, 200, 'still open')
  t.equal((await call(alice, 'DELETE', `/api/files/shares/${revoked.link.id}`)).statusCode, 200, 'its creator revokes it')
  t.equal((await anonymous(revoked.path)).statusCode, 404, 'revoked: at once')
  const byAdmin = await share(alice, fileId)
  t.equal((await call(admin, 'DELETE', `/api/files/shares/${byAdmin.link.id}`)).statusCode, 200, 'an admin revokes any link')
  t.equal((await anonymous(byAdmin.path)).statusCode, 404)

  const limited = await share(alice, fileId, { maxUses: 3 })
  const opens = await Promise.all(Array.from({ length: 8 }, () => anonymous(limited.path)))
  t.equal(opens.filter((r) => r.statusCode === 200).length, 3, 'concurrent opens never pass the use limit')
  t.equal((await h.app.pg.query('SELECT uses FROM files.share_links WHERE id = $1', [limited.link.id])).rows[0].uses, 3)
})

t.test('creating: only for a file one can read, within the limits', async (t) => {
  t.equal((await call(bob, 'POST', '/api/files/shares', { fileId })).statusCode, 404, "not bob's file")
  t.equal((await call(alice, 'POST', '/api/files/shares', { fileId: randomUUID() })).statusCode, 404)
  t.equal((await call(alice, 'POST', '/api/files/shares', { fileId, expiresInDays: 91 })).statusCode, 400, 'at most 90 days')
  t.equal((await call(alice, 'POST', '/api/files/shares', { fileId, maxUses: 0 })).statusCode, 400)
  t.equal((await call(alice, 'POST', '/api/files/shares', { fileId, creatorId: bob.userId })).statusCode, 400, 'no unknown fields')
  const s = await share(alice, fileId)
  const days = await h.app.pg.query(`SELECT extract(epoch FROM expires_at - created_at) / 86400 AS d FROM files.share_links WHERE id = $1`, [s.link.id])
  t.equal(Math.round(Number(days.rows[0].d)), 7, 'default expiry 7 days')

  const mine = (await call(alice, 'GET', '/api/files/shares')).json().links as { id: string; creatorId: string }[]
  t.ok(mine.some((l) => l.id === s.link.id) && mine.every((l) => l.creatorId === alice.userId), 'the creator lists their links')
  t.same((await call(bob, 'GET', '/api/files/shares')).json().links, [], "nobody else's")
  t.equal((await call(bob, 'GET', '/api/files/shares?all=true')).statusCode, 403)
  t.ok(
    (await call(admin, 'GET', '/api/files/shares?all=true')).json().links.some((l: { id: string }) => l.id === s.link.id),
    'admins list all'
  )
})

t.test('the sweep forgets links dead for longer than the retention period', async (t) => {
  const old = await share(alice, fileId)
  const fresh = await share(alice, fileId)
  await call(alice, 'DELETE', `/api/files/shares/${fresh.link.id}`)
  await h.app.pg.query(`UPDATE files.share_links SET expires_at = now() - interval '8 days' WHERE id = $1`, [old.link.id])
  const r = await h.app.files.sweeper!.sweep()
  t.ok(r.links >= 1)
  const left = await h.app.pg.query('SELECT id FROM files.share_links WHERE id = ANY($1)', [[old.link.id, fresh.link.id]])
  t.same(
    left.rows.map((x) => x.id),
    [fresh.link.id],
    'expired 8 days ago: gone; revoked just now: kept (7-day retention)'
  )
  const audit = await h.app.pg.query(`SELECT count(*)::int AS n FROM files.audit_events WHERE detail->>'linkId' = $1`, [old.link.id])
  t.ok(audit.rows[0].n >= 1, 'its audit trail stays')
})

t.test('a link to a deleted file is dead', async (t) => {
  const other = await upload(h, alice, [filePart('gone.txt', Buffer.from('soon gone\n'), 'text/plain')])
  const s = await share(alice, other.json().id)
  t.equal((await anonymous(s.path)).statusCode, 200)
  await call(alice, 'DELETE', `/api/files/${other.json().id}`)
  t.equal((await anonymous(s.path)).statusCode, 404)
})

t.test('the policy: off, signed-in, public', async (t) => {
  const s = await share(alice, fileId)
  const signedIn = await instance({ SHARE_LINKS: 'signed-in' })
  t.equal((await signedIn.app.inject({ url: s.path })).statusCode, 404, 'signed-in: no opening without an account')
  t.equal((await signedIn.app.inject({ url: `/api/files/shared/${s.token}` })).statusCode, 401, 'and the account path needs one')
  const ok = await signedIn.app.inject({ url: `/api/files/shared/${s.token}`, headers: await signedIn.as(bob) })
  t.equal(ok.statusCode, 200)
  const created = await signedIn.app.inject({ method: 'POST', url: '/api/files/shares', headers: await signedIn.as(alice), payload: { fileId } })
  t.match(created.json().path, /^\/api\/files\/shared\//, 'links made under signed-in point at the account path')

  const off = await instance({ SHARE_LINKS: 'off' })
  t.equal((await off.app.inject({ url: `/api/files/shared/${s.token}`, headers: await off.as(bob) })).statusCode, 404, 'off: nothing opens')
  const refused = await off.app.inject({ method: 'POST', url: '/api/files/shares', headers: await off.as(alice), payload: { fileId } })
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().code, 'SHARE_LINKS_DISABLED')
})

t.test('opens are rate-limited per client address', async (t) => {
  const limited = await instance({ SHARE_LINKS: 'public', SHARE_LINKS_OPENS_PER_MINUTE: 3, TRUSTED_PROXIES: 'none' })
  const s = await share(alice, fileId)
  const from = (ip: string) => limited.app.inject({ url: s.path, remoteAddress: ip })
  for (let i = 0; i < 3; i++) t.equal((await from('203.0.113.7')).statusCode, 200)
  t.equal((await from('203.0.113.7')).statusCode, 429, 'the fourth from one address')
  t.equal((await from('198.51.100.9')).statusCode, 200, 'another address is not locked out')
})

t.test('the open budget of one address is spent alike on every instance', async (t) => {
  const limits = { SHARE_LINKS: 'public', SHARE_LINKS_OPENS_PER_MINUTE: 3, TRUSTED_PROXIES: 'none' } as const
  const [one, two] = [await instance(limits), await instance(limits)]
  const s = await share(alice, fileId)
  const from = (h: typeof one) => h.app.inject({ url: s.path, remoteAddress: '203.0.113.61' }).then((r) => r.statusCode)
  t.same([await from(one), await from(two), await from(one)], [200, 200, 200])
  t.same([await from(two), await from(one)], [429, 429], 'the fourth is refused whichever instance it reaches')
})

t.test('no token in any log line, whatever path it took', async (t) => {
  const s = await share(alice, fileId)
  await anonymous(s.path)
  await anonymous(`${s.path}x`)
  await call(bob, 'GET', `/api/files/shared/${s.token}`)
  await call(bob, 'GET', `/api/files/${randomUUID()}`).then(async () =>
    h.app.inject({ url: '/api/files', headers: { ...(await h.as(bob)), referer: `https://palisade.example${s.path}` } })
  )
  const problem = await anonymous(`/s/${s.token}zz`)
  t.notOk(problem.body.includes(s.token), "a problem's instance does not echo it either")
  const text = logs.text()
  t.ok(text.includes('/s/[redacted]'), 'share-link requests are logged, redacted')
  t.notOk(text.includes(s.token), 'the token appears in no log line')
  t.notOk(text.includes(s.token.slice(0, 20)), 'not even a prefix of it')
})

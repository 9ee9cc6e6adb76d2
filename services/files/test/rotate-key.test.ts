import t from 'tap'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildService } from '@palisade/testkit'
import filesApp, { type FilesAppConfig } from '../src/app.js'
import { newKekLine } from '../src/crypto/keyring.js'
import { rotateKeyCommand } from '../src/cli/rotate-key.js'
import { filePart, harness, startFiles, upload } from './helpers.js'

// Key rotation as an operator runs it: a new key put first (old one still listed), instances
// restarted, `files:rotate-key`, old key removed. Files stay readable at every step; blobs never change.
const oldLine = newKekLine()
const newLine = newKekLine()
const idOf = (line: string) => line.slice(0, line.indexOf(':'))
const first = await startFiles(t, { FILES_KEYS: oldLine })
const alice = await first.stack.createUser()

async function instance(keys: string) {
  const config: FilesAppConfig = { ...first.config, FILES_KEYS: keys }
  return harness(first.stack, await buildService(t, filesApp, config, { service: 'files' }), first.storageDir, config)
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const blob = (id: string) => readFile(join(first.storageDir, 'objects', id.slice(0, 2), id)).then(sha)

const ids: string[] = []
for (const n of [1, 2, 3]) {
  const res = await upload(first, alice, [filePart(`f${n}.txt`, Buffer.from(`file ${n}\n`.repeat(n * 1000)), 'text/plain')])
  ids.push(res.json().id)
}
const blobsBefore = await Promise.all(ids.map(blob))

async function readable(h: Awaited<ReturnType<typeof instance>>, id: string): Promise<number> {
  return (await h.app.inject({ url: `/api/files/${id}/content`, headers: await h.as(alice) })).statusCode
}

t.test('rotation re-wraps data keys and leaves the blobs alone', async (t) => {
  const both = await instance(`${newLine}\n${oldLine}`)
  for (const id of ids) t.equal(await readable(both, id), 200, 'the old key is still accepted before rotation')
  const fresh = await upload(both, alice, [filePart('new.txt', Buffer.from('new\n'), 'text/plain')])
  const freshRow = await both.app.pg.query('SELECT key_id FROM files.files WHERE id = $1', [fresh.json().id])
  t.equal(freshRow.rows[0].key_id, idOf(newLine), 'new files are wrapped by the first key')

  const lines: string[] = []
  const code = await rotateKeyCommand({ DATABASE_URL: first.config.DATABASE_URL, FILES_KEYS: `${newLine}\n${oldLine}` }, (l) => lines.push(l))
  t.equal(code, 0, lines.join('\n'))
  t.match(lines.join('\n'), /re-wrapped 3 data keys/)
  t.notOk(lines.join('\n').includes(newLine.slice(newLine.indexOf(':') + 1)), 'the output never shows key material')
  const keyIds = await both.app.pg.query('SELECT DISTINCT key_id FROM files.files')
  t.same(
    keyIds.rows.map((r) => r.key_id),
    [idOf(newLine)],
    'every row is under the new key'
  )
  t.same(await Promise.all(ids.map(blob)), blobsBefore, 'no blob was rewritten')

  const onlyNew = await instance(newLine)
  for (const id of [...ids, fresh.json().id]) t.equal(await readable(onlyNew, id), 200, 'readable with the old key removed')
  const onlyOld = await instance(oldLine)
  t.equal(await readable(onlyOld, ids[0]!), 500, 'and no longer with the old key alone')

  const again = await rotateKeyCommand({ DATABASE_URL: first.config.DATABASE_URL, FILES_KEYS: newLine }, () => {})
  t.equal(again, 0, 'running it again is a no-op')
})

t.test('rows that cannot be re-wrapped are reported, not lost', async (t) => {
  const third = newKekLine()
  const res = await upload(first, alice, [filePart('x.txt', Buffer.from('x\n'), 'text/plain')])
  const lines: string[] = []
  // The operator forgot to list the key that wrapped this row: it is named, the exit code says so.
  const code = await rotateKeyCommand({ DATABASE_URL: first.config.DATABASE_URL, FILES_KEYS: `${third}\n${newLine}` }, (l) => lines.push(l))
  t.equal(code, 1)
  t.match(lines.join('\n'), new RegExp(`could not re-wrap file ${res.json().id}: no key-encryption key with id ${idOf(oldLine)}`))
  const bad = await rotateKeyCommand({ DATABASE_URL: first.config.DATABASE_URL, FILES_KEYS: 'garbage' }, () => {})
  t.equal(bad, 2, 'an unusable FILES_KEYS is refused before touching anything')
})

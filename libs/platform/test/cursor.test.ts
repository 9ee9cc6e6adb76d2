import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { sql } from 'drizzle-orm'
import { createDatabase, createPool, cursorCodec, errorHandlerPlugin, seqPosition, serverOptions, timeIdPosition, uuidPosition } from '../src/index.js'
import { captureLogs, createTestDatabase } from '../src/testing/index.js'

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url')

function refused(t: Test, fn: () => unknown, why: string) {
  t.throws(fn, { statusCode: 400, code: 'VALIDATION_FAILED' }, why)
}

t.test('a cursor round-trips and nothing else decodes', async (t) => {
  const seq = cursorCodec('m', seqPosition)
  t.equal(seq.decode(seq.encode(42)), 42)
  t.equal(seq.decodeOptional(undefined), undefined)
  refused(t, () => seq.decode(b64('m:0')), 'zero is no sequence number')
  refused(t, () => seq.decode(b64('m:042')), 'a second spelling of 42')
  refused(t, () => seq.decode(b64('m:99999999999999999')), 'beyond a safe integer')
  refused(t, () => seq.decode(b64('s:42')), 'another kind')
  refused(t, () => seq.decode(`${seq.encode(42)}=`), 'padding makes a second spelling')
  refused(t, () => seq.decode(b64('m:42\u0000')), 'trailing bytes')

  const ids = cursorCodec('u', uuidPosition)
  const id = '0b6f2c1e-4d7a-4a51-9a8e-2f7c9d3b1a00'
  t.equal(ids.decode(ids.encode(id)), id)
  refused(t, () => ids.decode(b64("u:' OR 1=1 --")), 'not a uuid')

  const keyset = cursorCodec('a', timeIdPosition)
  const at = new Date('2026-12-07T02:03:04.567Z')
  t.same(keyset.decode(keyset.encode({ at, id })), { at, id })
  // The attack review's cursor: a valid JavaScript date that PostgreSQL rejects (year 0), once a 500.
  refused(t, () => keyset.decode(b64(`0000-01-01|${id}`)), 'the old year-0 spelling')
  refused(t, () => keyset.decode(b64(`a:-62167219200000.${id}`)), 'before 1970')
  refused(t, () => keyset.decode(b64(`a:253402300800000.${id}`)), 'after 9999')
  refused(t, () => keyset.decode(b64(`a:8640000000000000.${id}`)), 'the largest Date')
  refused(t, () => keyset.decode(b64(`a:1.${id}.x`)), 'stray parts')
  t.same(keyset.decode(keyset.encode({ at: new Date(253402300799999), id })).at.getTime(), 253402300799999, 'the last ms of 9999 is fine')
})

t.test('a failed query is logged without the values it ran with', async (t) => {
  const db = await createTestDatabase('cursor')
  t.teardown(() => db.drop())
  const pool = createPool({ url: db.url, name: 'cursor-test' })
  t.teardown(() => pool.end())
  await pool.query('CREATE TABLE people (email text PRIMARY KEY)')
  await pool.query(`INSERT INTO people VALUES ('taken@example.com')`)
  const drizzle = createDatabase(pool)

  const logs = captureLogs()
  const app = Fastify(serverOptions({ service: 'chat', logLevel: 'info', logStream: logs.stream }))
  t.teardown(() => app.close())
  await app.register(errorHandlerPlugin)
  app.get('/bad-time', async () => drizzle.execute(sql`SELECT ${'0000-01-01T00:00:00.000Z secret-param-value'}::timestamptz`))
  app.get('/duplicate', async () => drizzle.execute(sql`INSERT INTO people VALUES (${'taken@example.com'})`))

  for (const url of ['/bad-time', '/duplicate']) {
    const res = await app.inject({ url: `${url}?q=secret-query-value` })
    t.equal(res.statusCode, 500)
    t.notMatch(res.body, /secret|taken@|SELECT|INSERT/, 'nothing of the query in the answer')
  }
  const errors = logs.lines
    .map((l) => JSON.parse(l) as { msg: string; err?: { message: string; stack: string; cause?: { code?: string } } })
    .filter((l) => l.err)
  t.equal(errors.length, 2, 'both failures are logged')
  t.notMatch(logs.text(), /secret-param-value|secret-query-value|taken@example\.com/, 'no parameter, query string or row value in any line')
  t.match(errors[0]!.err!.message, /^Failed query: SELECT \$1::timestamptz$/, 'the statement stays for debugging')
  t.equal(errors[1]!.err!.cause?.code, '23505', 'and the PostgreSQL error code')
})

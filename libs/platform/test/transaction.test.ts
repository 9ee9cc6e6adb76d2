import { test } from 'tap'
import { createPool, withTransaction } from '../src/index.js'
import { createTestDatabase } from '../src/testing/index.js'

test('withTransaction commits on success, rolls back on a throw and always releases the client', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const pool = createPool({ url: db.url, name: 'transaction-test', max: 1 })
  t.teardown(() => pool.end())
  await pool.query('CREATE TABLE items (v text)')

  t.equal(await withTransaction(pool, async (c) => (await c.query("INSERT INTO items VALUES ('kept') RETURNING v")).rows[0].v), 'kept')
  const boom = new Error('boom')
  await t.rejects(
    withTransaction(pool, async (c) => {
      await c.query("INSERT INTO items VALUES ('dropped')")
      throw boom
    }),
    boom,
    'the original error is rethrown'
  )
  // With max: 1 a leaked client would make this wait forever; a transaction left open would show 'dropped'.
  t.same((await pool.query('SELECT v FROM items ORDER BY v')).rows, [{ v: 'kept' }])
  t.equal(pool.idleCount, 1)
})

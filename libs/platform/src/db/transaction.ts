import type pg from 'pg'

/**
 * Runs `fn` inside BEGIN … COMMIT on one pooled client, for code that speaks SQL to pg directly
 * (drizzle code uses `db.transaction`). A throw rolls back and is rethrown; the client always goes
 * back to the pool, or is discarded when even the ROLLBACK failed (its connection state is unknown).
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  try {
    await client.query('BEGIN')
    const result = await fn(client)
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackErr: Error) => {
      broken = rollbackErr
    })
    throw err
  } finally {
    client.release(broken)
  }
}

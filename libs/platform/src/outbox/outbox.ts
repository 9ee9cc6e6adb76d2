import type pg from 'pg'
import { drizzle } from 'drizzle-orm/node-postgres'
import type { Database } from '../db/database.js'
import { withTransaction } from '../db/transaction.js'
import { encodePayload } from '../nats/codec.js'
import { injectTraceHeaders } from '../tracing/tracing.js'

/** Adds one event to the transaction's outbox: `payload` goes, encoded once, to every subject. */
export type Emit = (subjects: Iterable<string>, payload: unknown) => void

/** PostgreSQL channel a service's relay listens on (`<schema>_outbox`). */
export const outboxChannel = (schema: string) => `${schema}_outbox`

/**
 * Writes events in the same transaction as the change they announce, so that a crash after the
 * commit loses nothing: the relay of this or any other instance publishes them later. Each row
 * keeps the writing transaction's `traceparent`, so that publish continues the writer's trace.
 */
export class Outbox {
  /**
   * Called after a commit that wrote events and before the relay is woken. Tests set it to kill the
   * process exactly there (a crash between commit and publish); nothing else should.
   */
  afterCommit: (() => void) | null = null

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    private readonly wake: () => void
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name: ${schema}`)
  }

  /**
   * Runs `fn` in one transaction; events it emits are inserted just before COMMIT (after `fn`
   * returns, so a throw leaves none) together with a NOTIFY that wakes the relays once committed.
   */
  async transaction<T>(fn: (client: pg.PoolClient, emit: Emit) => Promise<T>): Promise<T> {
    const pending: Array<{ subjects: string[]; data: Buffer }> = []
    const emit: Emit = (subjects, payload) => {
      const list = [...subjects]
      if (list.length > 0) pending.push({ subjects: list, data: Buffer.from(encodePayload(payload)) })
    }
    const result = await withTransaction(this.pool, async (client) => {
      const value = await fn(client, emit)
      if (pending.length > 0) await this.insert(client, pending, injectTraceHeaders({}).traceparent ?? null)
      return value
    })
    if (pending.length > 0) {
      this.afterCommit?.()
      this.wake()
    }
    return result
  }

  /** `transaction` for drizzle code: the same transaction as a drizzle database. */
  drizzle<T>(fn: (db: Database, emit: Emit) => Promise<T>): Promise<T> {
    return this.transaction((client, emit) => fn(drizzle(client) as Database, emit))
  }

  private async insert(client: pg.PoolClient, events: Array<{ subjects: string[]; data: Buffer }>, traceparent: string | null): Promise<void> {
    // One statement for any number of events, NOTIFY included: subjects travel as JSON arrays (a
    // text[][] must be rectangular).
    await client.query({
      name: `${this.schema}_outbox_insert`,
      text: `WITH e AS (
               INSERT INTO ${this.schema}.outbox (subjects, data, traceparent)
               SELECT ARRAY(SELECT json_array_elements_text(s)), d, $3::text FROM unnest($1::json[], $2::bytea[]) AS e(s, d)
             )
             SELECT pg_notify('${outboxChannel(this.schema)}', '')`,
      values: [events.map((e) => JSON.stringify(e.subjects)), events.map((e) => e.data), traceparent]
    })
  }
}

import { bigserial, customType, timestamp, uuid, text, type PgSchema } from 'drizzle-orm/pg-core'

const bytea = customType<{ data: Buffer }>({ dataType: () => 'bytea' })

/**
 * The outbox of a service's schema: events written in the transaction of the change they announce,
 * relayed to NATS after commit and deleted once published (see OutboxRelay). Each service's drizzle
 * schema exports `outboxTable(<its schema>)` so that its migrations create it.
 */
export function outboxTable(schema: PgSchema) {
  // No index beyond the key: rows live for a relay pass, the table stays a handful of rows.
  return schema.table('outbox', {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    /** the event id consumers de-duplicate by (header Palisade-Event-Id) */
    id: uuid('id').notNull().defaultRandom(),
    /** every subject the same bytes go to (one `events.user.<id>` per member) */
    subjects: text('subjects').array().notNull(),
    data: bytea('data').notNull(),
    /** W3C trace context of the writing transaction, when it ran in a trace: the relay's publish continues it */
    traceparent: text('traceparent'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
  })
}

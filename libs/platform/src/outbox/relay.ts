import type pg from 'pg'
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node'
import type { FastifyBaseLogger } from 'fastify'
import { NATS_HEADERS } from '@palisade/contracts'
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api'
import { SERVICE_ATTRIBUTE, tracer } from '../tracing/tracing.js'
import { withTransaction } from '../db/transaction.js'
import { ChannelListener } from '../db/channel-listener.js'
import { outboxChannel } from './outbox.js'

export interface OutboxRelayOptions {
  pool: pg.Pool
  /** connection string for the LISTEN connection */
  url: string
  schema: string
  nats: NatsConnection
  log: FastifyBaseLogger
  /** a pass also runs this often, whatever notifications say (a missed NOTIFY, a failed pass) */
  pollIntervalMs?: number
  batchSize?: number
}

interface OutboxRow {
  seq: string
  id: string
  subjects: string[]
  data: Buffer
  traceparent: string | null
}

/**
 * The claimed row as it comes from PostgreSQL: subjects joined by spaces (no NATS subject contains
 * whitespace). An event for a conversation of thousands carries thousands of subjects, and
 * splitting one string costs a fraction of node-postgres parsing the same text[] literal.
 */
type ClaimedRow = Omit<OutboxRow, 'subjects'> & { subjects: string }

const FLUSH_TIMEOUT_MS = 5000

/**
 * Publishes a service's outbox to NATS, oldest first, and deletes what NATS has acknowledged
 * (a flush round trip). Rows are claimed with FOR UPDATE SKIP LOCKED, so every instance of the
 * service runs a relay and none publishes a row another is publishing. Delivery is at least once: a
 * relay dying after the flush and before its COMMIT leaves the rows for the next one, and consumers
 * de-duplicate by the Palisade-Event-Id header (docs/architecture.md, "Events").
 */
export class OutboxRelay {
  private readonly listener: ChannelListener
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private closed = false

  constructor(private readonly opts: OutboxRelayOptions) {
    this.listener = new ChannelListener({
      url: opts.url,
      name: `${opts.schema}-outbox-relay`,
      channel: outboxChannel(opts.schema),
      onNotification: () => this.wake(),
      // Back after an outage: whatever was written meanwhile is waiting.
      onLiveChange: (live) => live && this.wake(),
      onError: (err) => opts.log.warn({ err }, 'outbox listener connection lost')
    })
  }

  async start(): Promise<void> {
    await this.listener.start()
    this.timer = setInterval(() => this.wake(), this.opts.pollIntervalMs ?? 1000)
    this.timer.unref()
    this.wake()
  }

  /** Drains the outbox now (or right after the pass under way). */
  wake(): void {
    if (this.closed) return
    if (this.running) {
      this.again = true
      return
    }
    // Outside the waker's trace: a pass serves every transaction, its queries belong to none.
    this.running = context
      .with(ROOT_CONTEXT, () => this.drain())
      .finally(() => {
        this.running = null
        if (this.again) {
          this.again = false
          this.wake()
        }
      })
  }

  /** Stops waking; the pass under way finishes (its rows are published and deleted, or left). */
  /**
   * Stops waking; the pass under way finishes, then one last pass publishes what was written during
   * shutdown (agent runs ended as interrupted) while NATS is still connected.
   */
  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    await this.running
    await this.drain(true)
    await this.listener.close()
  }

  private async drain(final = false): Promise<void> {
    try {
      while ((final || !this.closed) && (await this.publishBatch()) === (this.opts.batchSize ?? 100));
    } catch (err) {
      this.opts.log.warn({ err }, 'outbox relay pass failed; retrying at the next poll')
    }
  }

  private async publishBatch(): Promise<number> {
    const { schema, nats } = this.opts
    return withTransaction(this.opts.pool, async (client) => {
      const claimed = (
        await client.query<ClaimedRow>({
          name: `${schema}_outbox_claim`,
          text: `SELECT seq, id, array_to_string(subjects, ' ') AS subjects, data, traceparent FROM ${schema}.outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
          values: [this.opts.batchSize ?? 100]
        })
      ).rows
      const rows: OutboxRow[] = claimed.map((r) => ({ ...r, subjects: r.subjects === '' ? [] : r.subjects.split(' ') }))
      if (rows.length === 0) return 0
      const spans: Span[] = []
      for (const row of rows) {
        const h = natsHeaders()
        h.set(NATS_HEADERS.eventId, row.id)
        const span = this.publishSpan(row)
        if (span) {
          spans.push(span)
          propagation.inject(trace.setSpan(ROOT_CONTEXT, span), h, { set: (carrier, key, value) => carrier.set(key, value) })
        }
        for (const subject of row.subjects) nats.publish(subject, row.data, { headers: h })
      }
      // The server has everything once a PING sent after it is answered; only then may rows go.
      try {
        await flushWithin(nats, FLUSH_TIMEOUT_MS)
      } catch (err) {
        for (const span of spans) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message })
        throw err
      } finally {
        for (const span of spans) span.end()
      }
      await client.query({
        name: `${schema}_outbox_delete`,
        text: `DELETE FROM ${schema}.outbox WHERE seq = ANY($1::bigint[])`,
        values: [rows.map((r) => r.seq)]
      })
      return rows.length
    })
  }

  /**
   * A PRODUCER span continuing the trace of the transaction that wrote the row (its traceparent), so
   * that consumers of the event join that trace. Rows written outside a trace make none.
   */
  private publishSpan(row: OutboxRow): Span | undefined {
    if (!row.traceparent) return undefined
    const parent = propagation.extract(ROOT_CONTEXT, { traceparent: row.traceparent })
    if (!trace.getSpanContext(parent)) return undefined
    return tracer().startSpan(
      `outbox.relay ${this.opts.schema}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          [SERVICE_ATTRIBUTE]: this.opts.schema,
          'messaging.system': 'nats',
          'messaging.message.id': row.id,
          'palisade.outbox.subjects': row.subjects.length
        }
      },
      parent
    )
  }
}

function flushWithin(nats: NatsConnection, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('NATS flush timed out')), ms)
  })
  return Promise.race([nats.flush(), timeout]).finally(() => clearTimeout(timer))
}

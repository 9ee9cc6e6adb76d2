import pg from 'pg'
import type { CheckResult } from './checks.js'
import type { Fault } from './faults.js'
import type { Ledger } from './ledger.js'

export interface FaultStats {
  name: string
  ok: boolean
  recoveryMs: number | null
  /** longest time any person's socket went without a message (arrival to arrival) across the fault */
  longestGapMs: number
  /** slowest send-to-arrival of a message first sent during the fault */
  slowestDeliveryMs: number
  notes: string[]
}

export interface FailoverReport {
  sent: number
  acknowledged: number
  /** acknowledged and stored exactly once */
  storedOnce: number
  lost: number
  duplicated: number
  /** given up by the client (refused or never confirmed) */
  unconfirmed: number
  /** acknowledged messages that reached every member (socket or catch-up) */
  delivered: number
  /** (message, member) pairs that never arrived */
  missingDeliveries: number
  viaCatchUp: number
  retriedOverHttp: number
  baseline: { longestGapMs: number; slowestDeliveryMs: number }
  faults: FaultStats[]
  checks: CheckResult[]
  incidents: Record<string, number>
}

/** Stored copies of every harness message, by clientMessageId (read as the administrator). */
async function storedCounts(adminUrl: string): Promise<Map<string, number>> {
  const c = new pg.Client({ connectionString: adminUrl })
  await c.connect()
  try {
    const r = await c.query<{ cid: string; n: string }>(
      "SELECT client_message_id AS cid, count(*) AS n FROM chat.messages WHERE client_message_id LIKE 'fo-%' GROUP BY 1"
    )
    return new Map(r.rows.map((row) => [row.cid, Number(row.n)]))
  } finally {
    await c.end()
  }
}

/**
 * The longest stretch inside [from, to) in which a person's socket got nothing (gaps clipped to the
 * window; arrivals before `since`, the set-up's, do not count).
 */
function windowStats(ledger: Ledger, from: number, to: number, since: number): { longestGapMs: number; slowestDeliveryMs: number } {
  let longestGapMs = 0
  for (const times of ledger.timeline.values()) {
    for (let i = 1; i < times.length; i++) {
      const a = times[i - 1]!
      const b = times[i]!
      if (a >= since && b > from && a < to) longestGapMs = Math.max(longestGapMs, Math.min(b, to) - Math.max(a, from))
    }
  }
  let slowestDeliveryMs = 0
  for (const rec of ledger.sends.values()) {
    if (rec.sentAt < from || rec.sentAt > to || !rec.messageId) continue
    for (const arrival of ledger.arrivals.get(rec.messageId)?.values() ?? []) slowestDeliveryMs = Math.max(slowestDeliveryMs, arrival.at - rec.sentAt)
  }
  return { longestGapMs, slowestDeliveryMs }
}

export async function buildReport(
  ledger: Ledger,
  adminUrl: string,
  faults: Fault[],
  checks: CheckResult[],
  baseline: { from: number; to: number },
  settleMs: number
): Promise<FailoverReport> {
  const stored = await storedCounts(adminUrl)
  const sends = [...ledger.sends.values()]
  const acked = sends.filter((s) => s.ackedAt !== undefined)
  let delivered = 0
  let missingDeliveries = 0
  let viaCatchUp = 0
  for (const s of acked) {
    const arrivals = ledger.arrivals.get(s.messageId!)
    const members = ledger.members.get(s.conversationId) ?? []
    const missing = members.filter((m) => !arrivals?.has(m)).length
    missingDeliveries += missing
    if (missing === 0) delivered++
    for (const a of arrivals?.values() ?? []) if (a.via === 'catch-up') viaCatchUp++
  }
  return {
    sent: sends.length,
    acknowledged: acked.length,
    storedOnce: acked.filter((s) => stored.get(s.clientMessageId) === 1).length,
    lost: acked.filter((s) => !stored.get(s.clientMessageId)).length,
    duplicated: sends.filter((s) => (stored.get(s.clientMessageId) ?? 0) > 1).length,
    unconfirmed: sends.filter((s) => s.ackedAt === undefined).length,
    delivered,
    missingDeliveries,
    viaCatchUp,
    retriedOverHttp: sends.filter((s) => s.httpAttempts > 0).length,
    baseline: windowStats(ledger, baseline.from, baseline.to, baseline.from),
    // A fault's window runs from its start to its recovery plus the settling time, and never into the next fault.
    faults: faults.map((f, i) => ({
      name: f.name,
      ok: f.ok,
      recoveryMs: f.recoveredAt ? f.recoveredAt - f.start : null,
      ...windowStats(ledger, f.start, Math.min((f.recoveredAt ?? f.start) + settleMs, faults[i + 1]?.start ?? Number.POSITIVE_INFINITY), baseline.from),
      notes: f.notes
    })),
    checks,
    incidents: Object.fromEntries([...ledger.incidents].sort((a, b) => b[1] - a[1]))
  }
}

/** Whether every asserted property held. */
export function passed(r: FailoverReport): boolean {
  return (
    r.acknowledged > 0 &&
    r.lost === 0 &&
    r.duplicated === 0 &&
    r.storedOnce === r.acknowledged &&
    r.missingDeliveries === 0 &&
    r.faults.every((f) => f.ok) &&
    r.checks.every((c) => c.ok)
  )
}

const s = (ms: number | null) => (ms === null ? 'not recovered' : `${(ms / 1000).toFixed(1)} s`)

export function renderReport(r: FailoverReport): string {
  const lines = [
    'Failover report',
    `  messages sent ${r.sent}, acknowledged ${r.acknowledged}, stored once ${r.storedOnce}, lost ${r.lost}, duplicated ${r.duplicated}, unconfirmed ${r.unconfirmed}`,
    `  delivered to every member ${r.delivered}/${r.acknowledged} (missing deliveries ${r.missingDeliveries}; ${r.viaCatchUp} arrivals by catch-up over HTTP; ${r.retriedOverHttp} sends repeated over HTTP)`,
    `  before any fault: longest gap ${s(r.baseline.longestGapMs)}, slowest delivery ${s(r.baseline.slowestDeliveryMs)}`,
    '',
    '  fault                              recovery   longest gap   slowest delivery',
    ...r.faults.map(
      (f) =>
        `  ${f.ok ? '✓' : '✗'} ${f.name.padEnd(32)} ${s(f.recoveryMs).padStart(9)} ${s(f.longestGapMs).padStart(12)} ${s(f.slowestDeliveryMs).padStart(17)}`
    ),
    ...r.faults.flatMap((f) => f.notes.map((n) => `      ${f.name}: ${n}`)),
    '',
    ...r.checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`),
    '',
    `  what the clients saw: ${
      Object.entries(r.incidents)
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ') || 'nothing unusual'
    }`
  ]
  return lines.join('\n')
}

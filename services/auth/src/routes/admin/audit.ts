import type { FastifyPluginAsync } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { AuditPageSchema, AuditQuerySchema, ProblemSchema } from '@palisade/contracts'
import { verifyAuditChain, type AuditDetails } from '../../lib/audit.js'
import type { AdminRoutesOptions } from './index.js'

/**
 * `GET /auth/admin/audit`: the audit log, newest first, filtered by user (as actor or as target),
 * event and time, with the verdict of the whole hash chain (walked on every call: an admin page,
 * not a hot path).
 */
export const adminAuditRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (root, { core }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  app.get('/auth/admin/audit', { schema: { querystring: AuditQuerySchema, response: { 200: AuditPageSchema, '4xx': ProblemSchema } } }, async (request) => {
    const q = request.query
    const where: string[] = []
    const params: unknown[] = []
    const add = (cond: (n: string) => string, value: unknown) => {
      params.push(value)
      where.push(cond(`$${params.length}`))
    }
    if (q.userId) add((n) => `(user_id::text = ${n} OR details->>'target' = ${n})`, q.userId.toLowerCase())
    if (q.event) add((n) => `event = ${n}`, q.event)
    if (q.from) add((n) => `at >= ${n}::timestamptz`, q.from)
    if (q.to) add((n) => `at < ${n}::timestamptz`, q.to)
    if (q.before) add((n) => `id < ${n}`, q.before)
    params.push(q.limit ?? 100)
    const rows = await core.pool.query<{
      id: string
      at: Date
      event: string
      user_id: string | null
      session_id: string | null
      ip: string | null
      details: AuditDetails
    }>(
      `SELECT id, at, event, user_id, session_id, ip, details FROM auth.audit_log
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
      params
    )
    const verdict = await verifyAuditChain(core.pool)
    return {
      entries: rows.rows.map((r) => ({
        id: Number(r.id),
        at: r.at.toISOString(),
        event: r.event,
        userId: r.user_id,
        sessionId: r.session_id,
        ip: r.ip,
        details: r.details
      })),
      chain: verdict.ok ? { ok: true, rows: verdict.rows } : { ok: false, rows: verdict.rows, brokenAt: verdict.brokenAt, reason: verdict.reason }
    }
  })
}

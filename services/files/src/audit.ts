import type { FastifyBaseLogger } from 'fastify'
import { FilesErrorCode } from '@palisade/contracts'
import { ProblemError, type Database } from '@palisade/platform'
import { auditEvents } from './db/schema.js'

export type AuditKind = 'file.integrity_failed' | 'file.restored' | 'share.created' | 'share.opened' | 'share.revoked'

export interface AuditEntry {
  fileId?: string | null
  actorId?: string | null
  requestId?: string | null
  detail?: Record<string, unknown>
}

/** Appends to files.audit_events. A failed write is logged, never thrown: the audit must not turn a refusal into a 500 loop. */
export class Audit {
  constructor(
    private readonly db: Database,
    private readonly log: FastifyBaseLogger
  ) {}

  async record(kind: AuditKind, e: AuditEntry): Promise<void> {
    try {
      await this.db.insert(auditEvents).values({
        kind,
        fileId: e.fileId ?? null,
        actorId: e.actorId ?? null,
        requestId: e.requestId ?? null,
        detail: e.detail ?? {}
      })
    } catch (err) {
      this.log.error({ err, kind, fileId: e.fileId }, 'audit event could not be written')
    }
  }

  /**
   * A blob failed its integrity check: an audit event, an error log line that alerting matches
   * (`alert: "file_integrity"`), and the problem the client gets. Never says which check failed.
   */
  async integrityFailure(
    log: FastifyBaseLogger,
    fileId: string,
    reason: string,
    actor: { actorId?: string | null; requestId?: string | null }
  ): Promise<ProblemError> {
    log.error({ alert: 'file_integrity', fileId, reason }, 'stored file failed its integrity check; not served')
    await this.record('file.integrity_failed', { fileId, ...actor, detail: { reason } })
    return new ProblemError(500, FilesErrorCode.integrity, 'The stored file is damaged and cannot be served')
  }
}

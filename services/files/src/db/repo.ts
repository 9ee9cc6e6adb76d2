import { and, desc, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm'
import type { Database } from '@palisade/platform'
import { cursorCodec, ProblemError, timeIdPosition } from '@palisade/platform'
import { ErrorCode, type FileMeta, type FileStatus } from '@palisade/contracts'
import { fileObjects, usage, type FileRow } from './schema.js'

export interface NewFile {
  id: string
  ownerId: string
  conversationId: string | null
  name: string
  type: string
  size: number
  sha256: string
  status: FileStatus
  /** the KEK that wrapped the data key, and the wrapped key */
  keyId: string
  wrappedKey: string
  /** an image's displayed size, or null */
  width: number | null
  height: number | null
}

export function toMeta(row: FileRow): FileMeta {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    size: row.size,
    sha256: row.sha256,
    status: row.status,
    ownerId: row.ownerId,
    conversationId: row.conversationId,
    createdAt: row.createdAt.toISOString(),
    width: row.width,
    height: row.height
  }
}

/** Newest first: the (created at, id) of a page's last row. */
export const fileCursor = cursorCodec('f', timeIdPosition)

export class FilesRepo {
  constructor(private readonly db: Database) {}

  async usedBytes(userId: string): Promise<number> {
    const rows = await this.db.select({ used: usage.usedBytes }).from(usage).where(eq(usage.userId, userId))
    return rows[0]?.used ?? 0
  }

  /**
   * Inserts a file row if the owner's quota allows it. One statement charges the owner's usage row
   * only if the file fits (creating the row on a first upload): it locks the row until the
   * transaction ends, so concurrent uploads of one user are checked one after another, each against
   * the others' committed charges, and can never overshoot together. `place` runs inside the
   * transaction after the insert (moving the bytes into place); if it fails nothing is committed,
   * and if the commit fails the caller removes the placed bytes.
   */
  async insertWithinQuota(file: NewFile, quotaBytes: number, place: () => Promise<void>): Promise<FileRow> {
    const overQuota = () => new ProblemError(413, ErrorCode.quotaExceeded, 'Storage quota exceeded')
    // A first upload inserts the row as it is: only a file within the quota may do that.
    if (file.size > quotaBytes) throw overQuota()
    return this.db.transaction(async (tx) => {
      // ON CONFLICT locks the existing row even when its WHERE is false (no row is returned then).
      const charged = await tx
        .insert(usage)
        .values({ userId: file.ownerId, usedBytes: file.size })
        .onConflictDoUpdate({
          target: usage.userId,
          set: { usedBytes: sql`${usage.usedBytes} + ${file.size}` },
          setWhere: sql`${usage.usedBytes} + ${file.size} <= ${quotaBytes}`
        })
        .returning({ used: usage.usedBytes })
      if (charged.length === 0) throw overQuota()
      // Millisecond precision, like the cursor that pages over it.
      const [row] = await tx
        .insert(fileObjects)
        .values({ ...file, createdAt: new Date(), scanNextAt: file.status === 'pending' ? new Date() : null })
        .returning()
      await place()
      return row!
    })
  }

  /** A live file (soft-deleted ones do not exist for any reader). */
  async get(id: string): Promise<FileRow | undefined> {
    const rows = await this.db
      .select()
      .from(fileObjects)
      .where(and(eq(fileObjects.id, id), isNull(fileObjects.deletedAt)))
    return rows[0]
  }

  async listByOwner(ownerId: string, limit: number, after?: { at: Date; id: string }): Promise<FileRow[]> {
    const mine = and(eq(fileObjects.ownerId, ownerId), isNull(fileObjects.deletedAt))
    const where = after ? and(mine, sql`(${fileObjects.createdAt}, ${fileObjects.id}) < (${after.at.toISOString()}::timestamptz, ${after.id}::uuid)`) : mine
    return this.db.select().from(fileObjects).where(where).orderBy(desc(fileObjects.createdAt), desc(fileObjects.id)).limit(limit)
  }

  /**
   * Soft-deletes the owner's live file and gives its bytes back to the quota (a restore charges
   * them again); undefined when it is not theirs or already deleted.
   */
  async softDeleteOwned(id: string, ownerId: string): Promise<FileRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(fileObjects)
        .set({ deletedAt: new Date(), deletedBy: ownerId, deleteReason: 'owner' })
        .where(and(eq(fileObjects.id, id), eq(fileObjects.ownerId, ownerId), isNull(fileObjects.deletedAt)))
        .returning()
      if (!row) return undefined
      await tx
        .update(usage)
        .set({ usedBytes: sql`GREATEST(0, ${usage.usedBytes} - ${row.size})` })
        .where(eq(usage.userId, ownerId))
      return row
    })
  }

  /** Soft-deletes every live file shared with a deleted conversation; returns how many. Idempotent. */
  async softDeleteConversation(conversationId: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      const rows = await tx
        .update(fileObjects)
        .set({ deletedAt: new Date(), deletedBy: null, deleteReason: 'conversation' })
        .where(and(eq(fileObjects.conversationId, conversationId), isNull(fileObjects.deletedAt)))
        .returning({ ownerId: fileObjects.ownerId, size: fileObjects.size })
      const perOwner = new Map<string, number>()
      for (const r of rows) perOwner.set(r.ownerId, (perOwner.get(r.ownerId) ?? 0) + r.size)
      for (const [ownerId, bytes] of [...perOwner].sort(([a], [b]) => a.localeCompare(b))) {
        await tx
          .update(usage)
          .set({ usedBytes: sql`GREATEST(0, ${usage.usedBytes} - ${bytes})` })
          .where(eq(usage.userId, ownerId))
      }
      return rows.length
    })
  }

  /** Soft-deleted files not yet purged, newest deletion first (admins). */
  async listDeleted(limit: number, ownerId?: string): Promise<FileRow[]> {
    const where = ownerId ? and(isNotNull(fileObjects.deletedAt), eq(fileObjects.ownerId, ownerId)) : isNotNull(fileObjects.deletedAt)
    return this.db.select().from(fileObjects).where(where).orderBy(desc(fileObjects.deletedAt), desc(fileObjects.id)).limit(limit)
  }

  /**
   * Brings a soft-deleted file back and charges its bytes to the owner again (an admin's decision:
   * it may take the owner past the quota). `check` runs in the transaction (the blob must still
   * be there; throwing rolls the restore back); undefined when there is no such deleted file.
   */
  async restore(id: string, check: (row: FileRow) => Promise<void>): Promise<FileRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(fileObjects)
        .set({ deletedAt: null, deletedBy: null, deleteReason: null })
        .where(and(eq(fileObjects.id, id), isNotNull(fileObjects.deletedAt)))
        .returning()
      if (!row) return undefined
      await check(row)
      await tx.insert(usage).values({ userId: row.ownerId, usedBytes: 0 }).onConflictDoNothing()
      await tx
        .update(usage)
        .set({ usedBytes: sql`${usage.usedBytes} + ${row.size}` })
        .where(eq(usage.userId, row.ownerId))
      return row
    })
  }

  /**
   * Purges up to `limit` files deleted more than `retentionDays` ago: rows locked with SKIP LOCKED
   * (instances sweeping at once take different rows), `destroy` removes each blob, and the rows
   * are deleted in the same transaction — a crash leaves a row whose blob is gone, which the next
   * sweep deletes, never a blob without a row.
   */
  async purgeExpired(retentionDays: number, limit: number, destroy: (id: string) => Promise<void>): Promise<number> {
    return this.db.transaction(async (tx) => {
      const rows = await tx
        .select({ id: fileObjects.id })
        .from(fileObjects)
        .where(sql`${fileObjects.deletedAt} < now() - ${`${retentionDays} days`}::interval`)
        .orderBy(fileObjects.deletedAt)
        .limit(limit)
        .for('update', { skipLocked: true })
      if (rows.length === 0) return 0
      for (const r of rows) await destroy(r.id)
      await tx.delete(fileObjects).where(
        inArray(
          fileObjects.id,
          rows.map((r) => r.id)
        )
      )
      return rows.length
    })
  }

  /** Which of `ids` have a row, deleted or not (the sweep's orphan check). */
  async existing(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    const rows = await this.db.select({ id: fileObjects.id }).from(fileObjects).where(inArray(fileObjects.id, ids))
    return new Set(rows.map((r) => r.id))
  }

  /**
   * Claims up to `limit` pending files whose turn has come, pushing their next turn `leaseMs` ahead
   * so that another instance does not scan them at the same time (SKIP LOCKED: no waiting).
   */
  async claimPending(limit: number, leaseMs: number): Promise<FileRow[]> {
    const result = await this.db.execute<{ id: string }>(sql`
      UPDATE ${fileObjects} SET scan_next_at = now() + ${`${leaseMs} milliseconds`}::interval
      WHERE id IN (
        SELECT id FROM ${fileObjects}
        WHERE status = 'pending' AND scan_next_at <= now() AND deleted_at IS NULL
        ORDER BY scan_next_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      )
      RETURNING id`)
    if (result.rows.length === 0) return []
    return this.db
      .select()
      .from(fileObjects)
      .where(
        inArray(
          fileObjects.id,
          result.rows.map((r) => r.id)
        )
      )
  }

  /** Records a verdict; only a still-pending file changes (a deleted or already judged one does not). */
  async markScanned(id: string, verdict: 'clean' | 'infected', signature: string | null, db: Database = this.db): Promise<boolean> {
    const rows = await db
      .update(fileObjects)
      .set({ status: verdict, scanSignature: signature, scannedAt: new Date(), scanNextAt: null })
      .where(and(eq(fileObjects.id, id), eq(fileObjects.status, 'pending')))
      .returning({ id: fileObjects.id })
    return rows.length > 0
  }

  async markScanFailed(id: string, retryInMs: number): Promise<void> {
    await this.db
      .update(fileObjects)
      .set({ scanAttempts: sql`${fileObjects.scanAttempts} + 1`, scanNextAt: new Date(Date.now() + retryInMs) })
      .where(and(eq(fileObjects.id, id), eq(fileObjects.status, 'pending')))
  }
}

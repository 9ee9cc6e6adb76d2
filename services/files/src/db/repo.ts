import { and, desc, eq, inArray, sql } from 'drizzle-orm'
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
    createdAt: row.createdAt.toISOString()
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
   * Inserts a file row if the owner's quota allows it. The owner's usage row is locked for the
   * whole transaction, so concurrent uploads of one user are checked one after another and can
   * never overshoot together. `place` runs inside the transaction after the insert (moving the
   * bytes into place); if it fails nothing is committed, and if the commit fails the caller removes
   * the placed bytes.
   */
  async insertWithinQuota(file: NewFile, quotaBytes: number, place: () => Promise<void>): Promise<FileRow> {
    return this.db.transaction(async (tx) => {
      await tx.insert(usage).values({ userId: file.ownerId, usedBytes: 0 }).onConflictDoNothing()
      const [locked] = await tx.select({ used: usage.usedBytes }).from(usage).where(eq(usage.userId, file.ownerId)).for('update')
      const used = locked?.used ?? 0
      if (used + file.size > quotaBytes) {
        throw new ProblemError(413, ErrorCode.quotaExceeded, 'Storage quota exceeded')
      }
      // Millisecond precision, like the cursor that pages over it.
      const [row] = await tx
        .insert(fileObjects)
        .values({ ...file, createdAt: new Date(), scanNextAt: file.status === 'pending' ? new Date() : null })
        .returning()
      await tx
        .update(usage)
        .set({ usedBytes: sql`${usage.usedBytes} + ${file.size}` })
        .where(eq(usage.userId, file.ownerId))
      await place()
      return row!
    })
  }

  async get(id: string): Promise<FileRow | undefined> {
    const rows = await this.db.select().from(fileObjects).where(eq(fileObjects.id, id))
    return rows[0]
  }

  async listByOwner(ownerId: string, limit: number, after?: { at: Date; id: string }): Promise<FileRow[]> {
    const where = after
      ? and(eq(fileObjects.ownerId, ownerId), sql`(${fileObjects.createdAt}, ${fileObjects.id}) < (${after.at.toISOString()}::timestamptz, ${after.id}::uuid)`)
      : eq(fileObjects.ownerId, ownerId)
    return this.db.select().from(fileObjects).where(where).orderBy(desc(fileObjects.createdAt), desc(fileObjects.id)).limit(limit)
  }

  /** Deletes the owner's file row and gives its bytes back to the quota; undefined when it is not theirs. */
  async deleteOwned(id: string, ownerId: string): Promise<FileRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .delete(fileObjects)
        .where(and(eq(fileObjects.id, id), eq(fileObjects.ownerId, ownerId)))
        .returning()
      if (!row) return undefined
      await tx
        .update(usage)
        .set({ usedBytes: sql`GREATEST(0, ${usage.usedBytes} - ${row.size})` })
        .where(eq(usage.userId, ownerId))
      return row
    })
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
        WHERE status = 'pending' AND scan_next_at <= now()
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
  async markScanned(id: string, verdict: 'clean' | 'infected', signature: string | null): Promise<boolean> {
    const rows = await this.db
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

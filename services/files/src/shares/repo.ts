import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { and, desc, eq, gt, isNull, or, sql } from 'drizzle-orm'
import type { Database } from '@palisade/platform'
import type { ConversationSnapshot, ShareLink } from '@palisade/contracts'
import { shareLinks, type ShareLinkRow } from '../db/schema.js'

const DAY_MS = 24 * 60 * 60 * 1000

/** sha256 of a token, hex: what is stored and looked up (the token itself never is). */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

export function toShareLink(row: ShareLinkRow): ShareLink {
  return {
    id: row.id,
    kind: row.kind,
    fileId: row.fileId,
    conversationId: row.conversationId,
    creatorId: row.creatorId,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    maxUses: row.maxUses,
    uses: row.uses,
    revokedAt: row.revokedAt?.toISOString() ?? null
  }
}

export class SharesRepo {
  constructor(private readonly db: Database) {}

  /** A new link with a fresh 256-bit token; returns the token (to show once) and the row. */
  async create(
    target: { kind: 'file'; fileId: string } | { kind: 'conversation'; conversationId: string; snapshot: ConversationSnapshot },
    creatorId: string,
    days: number,
    maxUses: number | null
  ): Promise<{ token: string; row: ShareLinkRow }> {
    const token = randomBytes(32).toString('base64url')
    const now = new Date()
    const [row] = await this.db
      .insert(shareLinks)
      .values({
        id: randomUUID(),
        tokenHash: tokenHash(token),
        ...target,
        creatorId,
        createdAt: now,
        expiresAt: new Date(now.getTime() + days * DAY_MS),
        maxUses
      })
      .returning()
    return { token, row: row! }
  }

  /**
   * Counts one opening of a live link — not revoked, not expired, uses left — in one statement, so
   * concurrent opens can never pass the limit; undefined for any other token (all look alike).
   */
  async consume(token: string): Promise<ShareLinkRow | undefined> {
    const [row] = await this.db
      .update(shareLinks)
      .set({ uses: sql`${shareLinks.uses} + 1` })
      .where(
        and(
          eq(shareLinks.tokenHash, tokenHash(token)),
          isNull(shareLinks.revokedAt),
          gt(shareLinks.expiresAt, sql`now()`),
          or(isNull(shareLinks.maxUses), sql`${shareLinks.uses} < ${shareLinks.maxUses}`)
        )
      )
      .returning()
    return row
  }

  async list(limit: number, creatorId?: string): Promise<ShareLinkRow[]> {
    const q = this.db.select().from(shareLinks)
    return (creatorId ? q.where(eq(shareLinks.creatorId, creatorId)) : q).orderBy(desc(shareLinks.createdAt), desc(shareLinks.id)).limit(limit)
  }

  async get(id: string): Promise<ShareLinkRow | undefined> {
    const [row] = await this.db.select().from(shareLinks).where(eq(shareLinks.id, id))
    return row
  }

  /**
   * Forgets links that have been dead (expired or revoked) for `days`: their snapshots go with them.
   * Their creation, openings and revocation stay in the audit log.
   */
  async purgeDead(days: number): Promise<number> {
    const cutoff = sql`now() - ${`${days} days`}::interval`
    const rows = await this.db
      .delete(shareLinks)
      .where(or(sql`${shareLinks.expiresAt} < ${cutoff}`, sql`${shareLinks.revokedAt} < ${cutoff}`))
      .returning({ id: shareLinks.id })
    return rows.length
  }

  /** Revokes at once (the next open fails); idempotent. */
  async revoke(id: string, by: string): Promise<ShareLinkRow | undefined> {
    const [row] = await this.db
      .update(shareLinks)
      .set({ revokedAt: sql`COALESCE(${shareLinks.revokedAt}, now())`, revokedBy: sql`COALESCE(${shareLinks.revokedBy}, ${by}::uuid)` })
      .where(eq(shareLinks.id, id))
      .returning()
    return row
  }
}

import { sql } from 'drizzle-orm'
import type { ConversationSnapshot } from '@palisade/contracts'
import { bigint, bigserial, check, index, integer, jsonb, pgSchema, text, timestamp, uuid } from 'drizzle-orm/pg-core'
import { outboxTable, rateLimitsTable } from '@palisade/platform'

/** Everything the files service stores lives in its own schema; other services ask over NATS. */
export const files = pgSchema('files')

/**
 * One row per stored file. The bytes live in the blob store under `id` (a server-made UUID), never
 * under anything a client sent; `name` is sanitised metadata only.
 */
export const fileObjects = files.table(
  'files',
  {
    id: uuid('id').primaryKey(),
    ownerId: uuid('owner_id').notNull(),
    /** shared with this conversation (its members may read the file); null = owner only */
    conversationId: uuid('conversation_id'),
    name: text('name').notNull(),
    /** sniffed media type */
    type: text('type').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    sha256: text('sha256').notNull(),
    status: text('status', { enum: ['pending', 'clean', 'infected', 'unscanned'] }).notNull(),
    scanSignature: text('scan_signature'),
    scannedAt: timestamp('scanned_at', { withTimezone: true, mode: 'date' }),
    scanAttempts: integer('scan_attempts').notNull().default(0),
    /** a pending file is (re)claimed by a scanner once this is in the past */
    scanNextAt: timestamp('scan_next_at', { withTimezone: true, mode: 'date' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    /**
     * Id of the key-encryption key that wrapped this file's data key. Null only for rows stored
     * before encryption at rest: those are refused when read (docs: services/files/README.md).
     */
    keyId: text('key_id'),
    /** the file's random AES-256 data key, wrapped (AES-256-GCM, AAD = file id + key id), base64 */
    wrappedKey: text('wrapped_key'),
    /**
     * Soft delete: set, the file is gone for everyone at once (every read filters on it); the blob
     * stays until the retention sweep, so an admin can restore it within FILES_RETENTION_DAYS.
     */
    deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date', precision: 3 }),
    /** who deleted it (null when its conversation was deleted) */
    deletedBy: uuid('deleted_by'),
    deleteReason: text('delete_reason', { enum: ['owner', 'conversation'] }),
    /** an image's displayed size, read from its plaintext header at upload (upload/dimensions.ts) */
    width: integer('width'),
    height: integer('height')
  },
  (t) => [
    index('files_owner_created_idx').on(t.ownerId, t.createdAt.desc(), t.id.desc()),
    index('files_conversation_idx').on(t.conversationId),
    index('files_pending_idx').on(t.scanNextAt).where(sql`${t.status} = 'pending'`),
    check('files_size_positive', sql`${t.size} > 0`),
    check('files_status_known', sql`${t.status} IN ('pending', 'clean', 'infected', 'unscanned')`),
    check('files_sha256_hex', sql`${t.sha256} ~ '^[0-9a-f]{64}$'`),
    check('files_key_complete', sql`(${t.keyId} IS NULL) = (${t.wrappedKey} IS NULL)`),
    index('files_key_id_idx').on(t.keyId),
    index('files_deleted_idx').on(t.deletedAt).where(sql`${t.deletedAt} IS NOT NULL`),
    check('files_delete_reason_known', sql`${t.deleteReason} IS NULL OR ${t.deleteReason} IN ('owner', 'conversation')`),
    check('files_delete_complete', sql`(${t.deletedAt} IS NULL) = (${t.deleteReason} IS NULL)`),
    check('files_dimensions_complete', sql`(${t.width} IS NULL) = (${t.height} IS NULL)`),
    check('files_dimensions_positive', sql`${t.width} IS NULL OR (${t.width} > 0 AND ${t.height} > 0)`)
  ]
)
export type FileRow = typeof fileObjects.$inferSelect

/**
 * Bytes each user has stored. An upload charges the user's row only if the file fits, which locks
 * the row until the upload commits, so concurrent uploads are serialised and can never overshoot it.
 */
export const usage = files.table(
  'usage',
  {
    userId: uuid('user_id').primaryKey(),
    usedBytes: bigint('used_bytes', { mode: 'number' }).notNull().default(0)
  },
  (t) => [check('usage_non_negative', sql`${t.usedBytes} >= 0`)]
)

/**
 * Security-relevant events of the files service (integrity failures, restores, share links):
 * append-only for the service; operators read it. Never holds a token or file content.
 */
export const auditEvents = files.table(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    kind: text('kind').notNull(),
    fileId: uuid('file_id'),
    actorId: uuid('actor_id'),
    requestId: text('request_id'),
    detail: jsonb('detail').$type<Record<string, unknown>>().notNull().default({})
  },
  (t) => [index('audit_events_kind_at_idx').on(t.kind, t.at)]
)
export type AuditEventRow = typeof auditEvents.$inferSelect

/**
 * Share links to one file. Only the token's sha256 is stored (the token is shown once); opening
 * counts `uses` atomically, so a use limit cannot be overshot by concurrent opens.
 */
export const shareLinks = files.table(
  'share_links',
  {
    id: uuid('id').primaryKey(),
    tokenHash: text('token_hash').notNull().unique(),
    kind: text('kind', { enum: ['file', 'conversation'] })
      .notNull()
      .default('file'),
    /** kind `file`: the file */
    fileId: uuid('file_id'),
    /** kind `conversation`: the conversation, and the snapshot taken when the link was made */
    conversationId: uuid('conversation_id'),
    snapshot: jsonb('snapshot').$type<ConversationSnapshot>(),
    creatorId: uuid('creator_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
    maxUses: integer('max_uses'),
    uses: integer('uses').notNull().default(0),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date', precision: 3 }),
    revokedBy: uuid('revoked_by')
  },
  (t) => [
    index('share_links_creator_idx').on(t.creatorId, t.createdAt.desc()),
    index('share_links_file_idx').on(t.fileId),
    check('share_links_token_hash_hex', sql`${t.tokenHash} ~ '^[0-9a-f]{64}$'`),
    check('share_links_uses_bounded', sql`${t.maxUses} IS NULL OR ${t.uses} <= ${t.maxUses}`),
    check(
      'share_links_kind_target',
      sql`(${t.kind} = 'file' AND ${t.fileId} IS NOT NULL AND ${t.conversationId} IS NULL AND ${t.snapshot} IS NULL) OR (${t.kind} = 'conversation' AND ${t.fileId} IS NULL AND ${t.conversationId} IS NOT NULL AND ${t.snapshot} IS NOT NULL)`
    )
  ]
)
export type ShareLinkRow = typeof shareLinks.$inferSelect

/** Events written with the changes they announce; the platform's relay publishes them (OutboxRelay). */
export const outbox = outboxTable(files)

/** Upload and share-link open budgets, spent alike on every instance. */
export const rateLimits = rateLimitsTable(files)

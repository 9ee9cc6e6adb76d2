import { Type, type Static } from 'typebox'
import { CursorSchema, IsoDateSchema, UuidSchema } from './common.js'
import { SUBJECTS, type NatsEndpoint } from './nats.js'

/** Longest stored file name, in UTF-8 bytes; longer names are shortened, keeping the extension. */
export const FILE_NAME_MAX_BYTES = 255

/**
 * `pending`: waiting for the malware scanner (never served). `clean`: the scanner found nothing.
 * `infected`: the scanner found something (never served; the bytes are deleted). `unscanned`: the
 * service runs without a scanner (`FILES_SCAN_MODE=none`) and serves files as soon as they are stored.
 */
export const FileStatusSchema = Type.Union([Type.Literal('pending'), Type.Literal('clean'), Type.Literal('infected'), Type.Literal('unscanned')])
export type FileStatus = Static<typeof FileStatusSchema>

/** Statuses whose bytes may be served (HTTP content, `files.text.get`). */
export const SERVABLE_FILE_STATUSES: readonly FileStatus[] = ['clean', 'unscanned']

export interface AllowedFileType {
  /** extensions a download name may keep; the first is appended to names with any other */
  readonly extensions: readonly string[]
  /** may be shown inline (`?disposition=inline`), always with the sandbox CSP */
  readonly inline: boolean
}

/**
 * The allow list. Types are sniffed from the bytes (magic numbers; plain text = valid UTF-8 without
 * NUL bytes that does not start like markup), never taken from the client. HTML, SVG, XML and
 * JavaScript are not accepted at all: there is no safe way to let users share active content.
 */
export const ALLOWED_FILE_TYPES: Readonly<Record<string, AllowedFileType>> = {
  'image/png': { extensions: ['png'], inline: true },
  'image/jpeg': { extensions: ['jpg', 'jpeg', 'jpe'], inline: true },
  'image/gif': { extensions: ['gif'], inline: true },
  'image/webp': { extensions: ['webp'], inline: true },
  'image/avif': { extensions: ['avif'], inline: true },
  'application/pdf': { extensions: ['pdf'], inline: false },
  'text/plain': { extensions: ['txt', 'text', 'md', 'markdown', 'csv', 'tsv', 'log', 'json', 'yaml', 'yml', 'toml', 'ini'], inline: false },
  'audio/mpeg': { extensions: ['mp3'], inline: false },
  'audio/ogg': { extensions: ['ogg', 'oga', 'opus'], inline: false },
  'audio/wav': { extensions: ['wav'], inline: false },
  'audio/mp4': { extensions: ['m4a', 'mp4'], inline: false },
  'video/mp4': { extensions: ['mp4', 'm4v'], inline: false },
  'video/webm': { extensions: ['webm'], inline: false },
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': { extensions: ['docx'], inline: false },
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': { extensions: ['xlsx'], inline: false },
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': { extensions: ['pptx'], inline: false }
}

/** Error codes of the files service beyond the shared `ErrorCode` ones (413/415 codes live there). */
export const FilesErrorCode = {
  /** 409: the file is waiting for the malware scanner */
  pendingScan: 'FILE_PENDING_SCAN',
  /** 409: the scanner found malware; the file is never served */
  infected: 'FILE_INFECTED',
  /** 400: a zero-byte upload */
  emptyFile: 'FILE_EMPTY',
  /** 400: the multipart request has no file part */
  fileMissing: 'FILE_MISSING',
  /** 416: a Range that starts past the end of the file */
  rangeNotSatisfiable: 'RANGE_NOT_SATISFIABLE',
  /** 429: too many uploads of one user in flight on one instance */
  tooManyUploads: 'TOO_MANY_CONCURRENT_UPLOADS',
  /** 500: the stored blob failed its integrity check (tag, size or content hash); never served */
  integrity: 'FILE_INTEGRITY_FAILED',
  /** 409: a file stored before encryption at rest; refused (services/files/README.md) */
  notEncrypted: 'FILE_NOT_ENCRYPTED'
} as const

/** The largest image side the files service records (JPEG's own limit); beyond it the header is not believed. */
export const IMAGE_DIMENSION_MAX = 65_535

export const Sha256HexSchema = Type.String({ minLength: 64, maxLength: 64, pattern: '^[0-9a-f]{64}$' })

export const FileMetaSchema = Type.Object(
  {
    id: UuidSchema,
    /** sanitised original name; metadata only, never a path */
    name: Type.String({ minLength: 1, maxLength: FILE_NAME_MAX_BYTES }),
    /** sniffed media type (one of ALLOWED_FILE_TYPES) */
    type: Type.String({ minLength: 1, maxLength: 128 }),
    size: Type.Integer({ minimum: 1 }),
    sha256: Sha256HexSchema,
    status: FileStatusSchema,
    ownerId: UuidSchema,
    /** the conversation the file is shared with, or null when only its owner can see it */
    conversationId: Type.Union([UuidSchema, Type.Null()]),
    createdAt: IsoDateSchema,
    /**
     * An image's size in CSS pixels as displayed (EXIF rotation applied), read from its header at
     * upload; null for other files and for images whose header could not be trusted. Lets a client
     * reserve the image's space before it loads.
     */
    width: Type.Union([Type.Integer({ minimum: 1, maximum: IMAGE_DIMENSION_MAX }), Type.Null()]),
    height: Type.Union([Type.Integer({ minimum: 1, maximum: IMAGE_DIMENSION_MAX }), Type.Null()])
  },
  { additionalProperties: false }
)
export type FileMeta = Static<typeof FileMetaSchema>

/** Text fields a multipart upload may carry beside its one file part. */
export const UploadFieldsSchema = Type.Object({ conversationId: Type.Optional(UuidSchema) }, { additionalProperties: false })
export type UploadFields = Static<typeof UploadFieldsSchema>

/**
 * `GET /api/files/limits`: what an upload must fit, so a client can refuse a file before sending
 * it. The server checks again on upload (sniffing the bytes); this only saves a doomed transfer.
 */
export const FileLimitsSchema = Type.Object(
  {
    /** largest accepted file, in bytes (the service's FILES_MAX_BYTES) */
    maxBytes: Type.Integer({ minimum: 1 }),
    /** accepted media types with the extensions a name may have for each */
    types: Type.Array(
      Type.Object(
        { type: Type.String({ minLength: 1, maxLength: 128 }), extensions: Type.Array(Type.String({ minLength: 1, maxLength: 16 }), { maxItems: 32 }) },
        { additionalProperties: false }
      ),
      { maxItems: 64 }
    ),
    /** the SHARE_LINKS policy: `off` hides the Share action in clients */
    shareLinks: Type.Union([Type.Literal('off'), Type.Literal('signed-in'), Type.Literal('public')])
  },
  { additionalProperties: false }
)
export type FileLimits = Static<typeof FileLimitsSchema>

export const FileListQuerySchema = Type.Object(
  {
    cursor: Type.Optional(CursorSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 }))
  },
  { additionalProperties: false }
)
export type FileListQuery = Static<typeof FileListQuerySchema>

export const FileListResponseSchema = Type.Object(
  { files: Type.Array(FileMetaSchema, { maxItems: 100 }), nextCursor: Type.Union([CursorSchema, Type.Null()]) },
  { additionalProperties: false }
)
export type FileListResponse = Static<typeof FileListResponseSchema>

/**
 * The malware scan of a file finished (FILES_SCAN_MODE=clamd): sent to `events.user.<id>` of its
 * uploader and, for a file shared with a conversation, of that conversation's members, so clients
 * update the file without polling. `status`: `clean` (served from now on) or `infected` (never).
 */
export const FileScannedEventSchema = Type.Object(
  {
    type: Type.Literal('file.scanned'),
    at: IsoDateSchema,
    fileId: UuidSchema,
    conversationId: Type.Union([UuidSchema, Type.Null()]),
    status: Type.Union([Type.Literal('clean'), Type.Literal('infected')])
  },
  { additionalProperties: false }
)
export type FileScannedEvent = Static<typeof FileScannedEventSchema>

/** A soft-deleted file an admin may restore until the retention sweep destroys it. */
export const DeletedFileSchema = Type.Object(
  {
    file: FileMetaSchema,
    deletedAt: IsoDateSchema,
    /** `owner`: deleted by its owner; `conversation`: its conversation was deleted */
    reason: Type.Union([Type.Literal('owner'), Type.Literal('conversation')]),
    /** when the sweep may destroy it */
    purgeAfter: IsoDateSchema
  },
  { additionalProperties: false }
)
export type DeletedFile = Static<typeof DeletedFileSchema>

export const DeletedFilesQuerySchema = Type.Object(
  { ownerId: Type.Optional(UuidSchema), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })) },
  { additionalProperties: false }
)
export const DeletedFilesResponseSchema = Type.Object({ files: Type.Array(DeletedFileSchema, { maxItems: 100 }) }, { additionalProperties: false })
export type DeletedFilesResponse = Static<typeof DeletedFilesResponseSchema>

export const FileContentQuerySchema = Type.Object(
  { disposition: Type.Optional(Type.Union([Type.Literal('attachment'), Type.Literal('inline')])) },
  { additionalProperties: false }
)
export type FileContentQuery = Static<typeof FileContentQuerySchema>

export const FileIdRequestSchema = Type.Object({ fileId: UuidSchema }, { additionalProperties: false })

/** Metadata of a file the acting user (NATS header `Palisade-Acting-User`) may see; 404 otherwise. */
export const FilesMetaGet: NatsEndpoint<typeof FileIdRequestSchema, typeof FileMetaSchema> = {
  subject: SUBJECTS.filesMetaGet,
  request: FileIdRequestSchema,
  response: FileMetaSchema,
  owner: 'files',
  callers: ['chat', 'agents']
}

/** Hard upper bound of `files.text.get` text (bytes of UTF-8); JSON escaping must stay below NATS' 1 MiB. */
export const FILE_TEXT_MAX_BYTES = 128 * 1024

export const FileTextRequestSchema = Type.Object(
  { fileId: UuidSchema, maxBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: FILE_TEXT_MAX_BYTES })) },
  { additionalProperties: false }
)
export const FileTextResponseSchema = Type.Object(
  {
    fileId: UuidSchema,
    name: Type.String({ minLength: 1, maxLength: FILE_NAME_MAX_BYTES }),
    size: Type.Integer({ minimum: 1 }),
    sha256: Sha256HexSchema,
    /** the first bytes of the file, cut at a character boundary */
    text: Type.String({ maxLength: FILE_TEXT_MAX_BYTES }),
    /** true when `text` is only the beginning of the file */
    truncated: Type.Boolean()
  },
  { additionalProperties: false }
)
export type FileTextResponse = Static<typeof FileTextResponseSchema>

/**
 * The text of a small plain-text file (chat attachments, agents), capped by the service's
 * `FILES_TEXT_MAX_BYTES` and the request's `maxBytes`. Same access rule as HTTP; the acting user
 * comes from the NATS header, never from the payload. Not plain text → 415; not servable → 409.
 */
export const FilesTextGet: NatsEndpoint<typeof FileTextRequestSchema, typeof FileTextResponseSchema> = {
  subject: SUBJECTS.filesTextGet,
  request: FileTextRequestSchema,
  response: FileTextResponseSchema,
  owner: 'files',
  callers: ['chat', 'agents']
}

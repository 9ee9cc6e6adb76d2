import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { Type, type Static } from 'typebox'
import { Value } from 'typebox/value'

/** Bump when the layout changes; restore refuses versions it does not know. */
export const BACKUP_FORMAT_VERSION = 1
export const MANIFEST_FILE = 'manifest.json'
/** sha256 of manifest.json, so that an edited manifest is refused before any of it is believed. */
export const MANIFEST_CHECKSUM_FILE = 'manifest.json.sha256'

const Sha256Schema = Type.String({ pattern: '^[0-9a-f]{64}$' })
/** relative paths inside the backup: no `..`, no absolute paths, no backslashes */
const RelPathSchema = Type.String({ pattern: '^(?!/)(?!.*(^|/)\\.\\.?(/|$))[A-Za-z0-9._/-]{1,512}$' })
const IdentSchema = Type.String({ pattern: '^[a-z_][a-z0-9_]{0,62}$' })

export const BackupFileSchema = Type.Object({ path: RelPathSchema, bytes: Type.Integer({ minimum: 0 }), sha256: Sha256Schema }, { additionalProperties: false })

export const BackupTableSchema = Type.Object(
  {
    name: IdentSchema,
    columns: Type.Array(IdentSchema, { minItems: 1, maxItems: 1600 }),
    rows: Type.Integer({ minimum: 0 }),
    file: BackupFileSchema
  },
  { additionalProperties: false }
)

export const BackupSchemaSchema = Type.Object(
  {
    name: IdentSchema,
    /** drizzle migrations applied (`__migrations`): the level the data belongs to */
    migrations: Type.Array(Type.Object({ hash: Type.String({ maxLength: 128 }), createdAt: Type.Integer() }, { additionalProperties: false }), {
      maxItems: 10_000
    }),
    tables: Type.Array(BackupTableSchema, { maxItems: 10_000 }),
    sequences: Type.Array(Type.Object({ name: IdentSchema, lastValue: Type.String({ pattern: '^-?[0-9]{1,20}$' }) }, { additionalProperties: false }), {
      maxItems: 10_000
    })
  },
  { additionalProperties: false }
)

export const BackupManifestSchema = Type.Object(
  {
    format: Type.Literal('palisade-backup'),
    version: Type.Integer({ minimum: 1 }),
    createdAt: Type.String({ format: 'date-time', maxLength: 40 }),
    database: Type.Object({ name: IdentSchema, serverVersion: Type.String({ maxLength: 200 }) }, { additionalProperties: false }),
    schemas: Type.Array(BackupSchemaSchema, { maxItems: 64 }),
    files: Type.Array(BackupFileSchema, { maxItems: 10_000_000 }),
    /** present only when the backup was made with --with-secrets */
    secrets: Type.Optional(Type.Array(BackupFileSchema, { maxItems: 1000 }))
  },
  { additionalProperties: false }
)

export type BackupFile = Static<typeof BackupFileSchema>
export type BackupTable = Static<typeof BackupTableSchema>
export type BackupSchema = Static<typeof BackupSchemaSchema>
export type BackupManifest = Static<typeof BackupManifestSchema>

/** A backup that cannot be trusted or a target that must not be overwritten: nothing was touched. */
export class BackupError extends Error {
  override name = 'BackupError'
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

export async function fileSha256(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer)
    bytes += (chunk as Buffer).length
  }
  return { sha256: hash.digest('hex'), bytes }
}

export function parseManifest(text: string): BackupManifest {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new BackupError('manifest.json is not JSON')
  }
  if (!Value.Check(BackupManifestSchema, value)) {
    const first = [...Value.Errors(BackupManifestSchema, value)][0]
    throw new BackupError(`manifest.json is not a Palisade backup manifest (${first ? `${first.instancePath || '/'}: ${first.message}` : 'invalid'})`)
  }
  if (value.version !== BACKUP_FORMAT_VERSION)
    throw new BackupError(`backup format version ${value.version} is not supported (this release reads ${BACKUP_FORMAT_VERSION})`)
  return value
}

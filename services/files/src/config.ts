import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Type, type Static } from 'typebox'
import { BaseConfigSchema, ConfigError, type ConfigInput } from '@palisade/platform'
import { DEFAULT_FILES_MAX_BYTES, FILE_TEXT_MAX_BYTES } from '@palisade/contracts'
import { KeyRing, newKekLine, parseKeyRing } from './crypto/keyring.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB

export const FilesConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  /**
   * Directory of the blob store (`objects/`, `tmp/`). Required in production; elsewhere it defaults
   * to `.data/files` at the repository root. Relative paths resolve against the working directory.
   */
  FILES_STORAGE_DIR: Type.String({ default: '' }),
  /**
   * Key-encryption keys (or `FILES_KEYS_FILE`): one `<id>:<base64 of 32 random bytes>` per line. The
   * first wraps the data key of every new file; all listed keys unwrap, so after putting a new key
   * first, the old one keeps working until `pnpm files:rotate-key` has re-wrapped every data key.
   * Required in production; elsewhere an ephemeral key is used (stored files die with the process).
   */
  FILES_KEYS: Type.Optional(Type.String({ minLength: 1, maxLength: 16_384 })),
  /**
   * days a deleted file (by its owner, or with its conversation) stays restorable by an admin before
   * the sweep destroys its blob and row
   */
  FILES_RETENTION_DAYS: Type.Integer({ minimum: 0, maximum: 3650, default: 7 }),
  /**
   * Share links to files: `off` (none can be created or opened), `signed-in` (anyone with a
   * Palisade account may open one, at /api/files/shared/<token>), `public` (also without an account,
   * at /s/<token>, a public route of the edge)
   */
  SHARE_LINKS: Type.Union([Type.Literal('off'), Type.Literal('signed-in'), Type.Literal('public')], { default: 'signed-in' }),
  /** share-link opens per client address and minute, one budget for all instances */
  SHARE_LINKS_OPENS_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 100_000, default: 30 }),
  /** largest accepted file, in bytes; bigger uploads are cut off while streaming with 413 FILE_TOO_LARGE */
  FILES_MAX_BYTES: Type.Integer({ minimum: 1, maximum: 5 * GiB, default: DEFAULT_FILES_MAX_BYTES }),
  /** bytes one user may store in total; beyond it uploads fail with 413 QUOTA_EXCEEDED */
  FILES_USER_QUOTA_BYTES: Type.Integer({ minimum: 1, maximum: 2 ** 50, default: 1 * GiB }),
  /** `none`: files are served once stored (status `unscanned`); `clamd`: `pending` until clamd says clean */
  FILES_SCAN_MODE: Type.Union([Type.Literal('none'), Type.Literal('clamd')], { default: 'none' }),
  /** clamd's address, `tcp://host:port` or `unix:/path/to/clamd.ctl`; required with FILES_SCAN_MODE=clamd */
  FILES_CLAMD_ADDRESS: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  /** time one clamd scan may take before it counts as failed (and is retried) */
  FILES_CLAMD_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 600_000, default: 60_000 }),
  /** how often pending files are (re)offered to the scanner, and the back-off base after a failure */
  FILES_SCAN_RETRY_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 30 }),
  /** cap of the text `files.text.get` returns */
  FILES_TEXT_MAX_BYTES: Type.Integer({ minimum: 1, maximum: FILE_TEXT_MAX_BYTES, default: 64 * 1024 }),
  /** uploads per user and minute (rate limit of POST /api/files), one budget for all instances */
  FILES_UPLOADS_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 100_000, default: 60 }),
  /** uploads of one user streaming at the same time on one instance; more get 429 */
  FILES_MAX_CONCURRENT_UPLOADS_PER_USER: Type.Integer({ minimum: 1, maximum: 1000, default: 4 })
})
export type FilesConfig = Static<typeof FilesConfigSchema>

/** What the app accepts: the files settings may be left out (tests, the launcher) and get their defaults. */
export type FilesAppConfig = ConfigInput<FilesConfig>

const REPO_DATA_DIR = fileURLToPath(new URL('../../../.data/files', import.meta.url))

/** The storage directory to use: configured, or the repository's data dir outside production. */
export function storageDirOf(config: FilesConfig): string {
  const dir = config.FILES_STORAGE_DIR.trim()
  if (!dir) {
    if (config.NODE_ENV === 'production') throw new ConfigError('FILES_STORAGE_DIR is required in production')
    return REPO_DATA_DIR
  }
  return isAbsolute(dir) ? dir : resolve(dir)
}

/** The key ring of FILES_KEYS; outside production a missing one is an ephemeral key (with a warning). */
export function keyRingOf(config: FilesConfig, warn: (msg: string) => void): KeyRing {
  const text = config.FILES_KEYS?.replace(/\\n/g, '\n')
  if (!text) {
    if (config.NODE_ENV === 'production') throw new ConfigError('FILES_KEYS (or FILES_KEYS_FILE) is required in production')
    warn('FILES_KEYS is not set: using an ephemeral key-encryption key (files stored now are unreadable after a restart)')
    return new KeyRing(parseKeyRing(newKekLine()))
  }
  try {
    return new KeyRing(parseKeyRing(text))
  } catch (err) {
    throw new ConfigError((err as Error).message)
  }
}

export function checkScanConfig(config: FilesConfig): void {
  if (config.FILES_SCAN_MODE === 'clamd' && !config.FILES_CLAMD_ADDRESS) {
    throw new ConfigError('FILES_CLAMD_ADDRESS is required when FILES_SCAN_MODE=clamd')
  }
}

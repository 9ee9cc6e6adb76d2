import type { Audit } from './audit.js'
import type { FilesConfig } from './config.js'
import type { FileVault } from './crypto/vault.js'
import type { FilesRepo } from './db/repo.js'
import type { Sweeper } from './retention/sweeper.js'
import type { SharesRepo } from './shares/repo.js'
import type { ScanWorker } from './scan/worker.js'
import type { DiskBlobStore } from './storage/disk-store.js'

/** What the routes and NATS handlers of one files instance share. */
export interface FilesContext {
  config: FilesConfig
  store: DiskBlobStore
  repo: FilesRepo
  /** the only way file bytes go in or out of the store: sealed, authenticated, hash-checked */
  vault: FileVault
  audit: Audit
  shares: SharesRepo
  /** present with FILES_SCAN_MODE=clamd */
  scanner: ScanWorker | undefined
  /** retention sweep (set once the app is built; tests run a pass through it) */
  sweeper: Sweeper | undefined
}

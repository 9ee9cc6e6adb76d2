import type { FastifyBaseLogger } from 'fastify'
import type { FilesRepo } from '../db/repo.js'
import type { SharesRepo } from '../shares/repo.js'
import { STALE_AFTER_MS, type DiskBlobStore } from '../storage/disk-store.js'

/** How often each instance sweeps (and once at start). */
export const SWEEP_INTERVAL_MS = 15 * 60 * 1000
const PURGE_BATCH = 100
const ORPHAN_BATCH = 500

export interface SweepResult {
  /** soft-deleted files past the retention period: rows and blobs destroyed */
  purged: number
  /** blobs without a row: written, but their transaction never committed (a crash) */
  orphans: number
  /** temp files of uploads whose process died */
  temps: number
  /** share links dead (expired or revoked) for longer than the retention period */
  links: number
}

/** The pool the orphan walk takes its advisory lock on (a session lock needs one connection). */
export interface LockPool {
  connect(): Promise<{ query(sql: string, params?: unknown[]): Promise<{ rows: { locked: boolean }[] }>; release(): void }>
}

/** Key of the advisory lock that lets one instance at a time walk the blob directory. */
const ORPHAN_WALK_LOCK = 0x66696c65 // "file"

/**
 * Destroys what may go: files deleted longer ago than the retention period (rows taken with SKIP
 * LOCKED, so instances sweeping together split the work), blobs no row points at (a crash between
 * the rename into objects/ and COMMIT), and stale temp files. Runs on every instance; the orphan
 * walk, which reads the whole directory, runs on one at a time (advisory lock) — running it twice
 * would be harmless, only wasteful.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<SweepResult> | undefined
  private stopped = false

  constructor(
    private readonly repo: FilesRepo,
    private readonly shares: SharesRepo,
    private readonly store: DiskBlobStore,
    private readonly pool: LockPool,
    private readonly log: FastifyBaseLogger,
    private readonly retentionDays: number
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep().catch((err) => this.log.error({ err }, 'sweep failed')), SWEEP_INTERVAL_MS)
    this.timer.unref()
    void this.sweep().catch((err) => this.log.error({ err }, 'sweep failed'))
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    await this.running?.catch(() => {})
  }

  /** One full pass, started after any pass already running on this instance (never two at once here). */
  async sweep(orphanAgeMs = STALE_AFTER_MS): Promise<SweepResult> {
    while (this.running) await this.running.catch(() => {})
    if (this.stopped) return { purged: 0, orphans: 0, temps: 0, links: 0 }
    const pass = this.pass(orphanAgeMs).finally(() => {
      this.running = undefined
    })
    this.running = pass
    return pass
  }

  private async pass(orphanAgeMs: number): Promise<SweepResult> {
    let purged = 0
    for (;;) {
      const n = await this.repo.purgeExpired(this.retentionDays, PURGE_BATCH, (id) => this.store.remove(id))
      purged += n
      if (n < PURGE_BATCH) break
    }
    const orphans = await this.removeOrphans(orphanAgeMs)
    const temps = await this.store.removeStaleTemps()
    const links = await this.shares.purgeDead(this.retentionDays)
    if (purged + orphans + temps + links > 0) this.log.info({ purged, orphans, temps, links }, 'files sweep')
    return { purged, orphans, temps, links }
  }

  private async removeOrphans(olderThanMs: number): Promise<number> {
    const client = await this.pool.connect()
    try {
      const { rows } = await client.query('SELECT pg_try_advisory_lock($1) AS locked', [ORPHAN_WALK_LOCK])
      if (!rows[0]?.locked) return 0
      try {
        let removed = 0
        let batch: string[] = []
        const flush = async () => {
          const known = await this.repo.existing(batch)
          for (const id of batch) {
            if (known.has(id)) continue
            await this.store.remove(id)
            this.log.warn({ fileId: id }, 'removed a blob that no file row points at')
            removed++
          }
          batch = []
        }
        for await (const id of this.store.storedIds(olderThanMs)) {
          batch.push(id)
          if (batch.length >= ORPHAN_BATCH) await flush()
        }
        await flush()
        return removed
      } finally {
        await client.query('SELECT pg_advisory_unlock($1) AS locked', [ORPHAN_WALK_LOCK])
      }
    } finally {
      client.release()
    }
  }
}

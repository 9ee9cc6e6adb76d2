import type { Readable } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import { userEventsSubject, type FileScannedEvent } from '@palisade/contracts'
import type { Outbox } from '@palisade/platform'
import type { Audit } from '../audit.js'
import { IntegrityError } from '../crypto/chunked.js'
import type { FileVault } from '../crypto/vault.js'
import type { FilesRepo } from '../db/repo.js'
import type { FileRow } from '../db/schema.js'
import type { DiskBlobStore } from '../storage/disk-store.js'
import { clamdInstream, parseClamdAddress, type ClamdAddress, type ScanVerdict } from './clamd.js'

/** Anything that can judge a stored file's (decrypted) bytes. */
export interface Scanner {
  scan(content: Readable): Promise<ScanVerdict>
}

export class ClamdScanner implements Scanner {
  private readonly address: ClamdAddress
  constructor(
    address: string,
    private readonly timeoutMs: number
  ) {
    this.address = parseClamdAddress(address)
  }

  scan(content: Readable): Promise<ScanVerdict> {
    return clamdInstream(this.address, content, this.timeoutMs)
  }
}

export interface ScanWorkerOptions {
  /** poll interval and back-off base */
  retryMs: number
  /** how long a claimed file is left to one scanner before another instance may take it */
  leaseMs: number
  concurrency?: number
  /** the verdict and its `file.scanned` event are written in one transaction of this outbox */
  outbox: Outbox
  /** who hears of the verdict (asked before the transaction) */
  audience: (row: FileRow) => Promise<Iterable<string>>
}

const MAX_BACKOFF_MS = 60 * 60 * 1000

/**
 * Moves `pending` files to `clean` or `infected`. Runs on every instance: files are claimed in the
 * database (SKIP LOCKED + a lease), so instances share the work and a crashed one's claims expire.
 * A failed scan (clamd down, timeout) leaves the file pending and retries with exponential back-off.
 * Infected bytes are deleted at once; the row stays so the owner sees what happened.
 */
export class ScanWorker {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private again = false
  private stopped = false

  constructor(
    private readonly repo: FilesRepo,
    private readonly store: DiskBlobStore,
    private readonly vault: FileVault,
    private readonly audit: Audit,
    private readonly scanner: Scanner,
    private readonly log: FastifyBaseLogger,
    private readonly opts: ScanWorkerOptions
  ) {}

  start(): void {
    this.stopped = false
    this.timer = setInterval(() => this.kick(), this.opts.retryMs)
    this.timer.unref()
    this.kick()
  }

  /** Looks for work now (after an upload); coalesces with a pass already under way. */
  kick(): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.drain()
      .catch((err) => this.log.error({ err }, 'scan pass failed'))
      .finally(() => {
        this.running = undefined
        if (this.again) {
          this.again = false
          this.kick()
        }
      })
  }

  /** Resolves when no pass is running (tests; shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    await this.idle()
  }

  private async drain(): Promise<void> {
    const concurrency = this.opts.concurrency ?? 2
    while (!this.stopped) {
      const batch = await this.repo.claimPending(concurrency, this.opts.leaseMs)
      if (batch.length === 0) return
      await Promise.all(batch.map((row) => this.scanOne(row)))
    }
  }

  /** Records a verdict with its event; false when the file was no longer pending (deleted, judged elsewhere). */
  private async judge(row: FileRow, status: 'clean' | 'infected', signature: string | null): Promise<boolean> {
    const audience = [...(await this.opts.audience(row))]
    return this.opts.outbox.drizzle(async (db, emit) => {
      const changed = await this.repo.markScanned(row.id, status, signature, db)
      const event: FileScannedEvent = { type: 'file.scanned', at: new Date().toISOString(), fileId: row.id, conversationId: row.conversationId, status }
      if (changed) emit(audience.map(userEventsSubject), event)
      return changed
    })
  }

  private async scanOne(row: FileRow): Promise<void> {
    let result: ScanVerdict
    try {
      const content = await this.vault.read(row, 0, row.size - 1)
      if (!content) return // deleted meanwhile
      try {
        result = await this.scanner.scan(content)
      } finally {
        content.destroy()
      }
    } catch (err) {
      if (err instanceof IntegrityError) {
        // A damaged blob is not scannable and must never be served: it stays pending, and ops are alerted.
        await this.audit.integrityFailure(this.log, row.id, err.message, {})
        await this.repo.markScanFailed(row.id, MAX_BACKOFF_MS)
        return
      }
      const retryIn = Math.min(MAX_BACKOFF_MS, this.opts.retryMs * 2 ** Math.min(row.scanAttempts, 10))
      this.log.warn({ fileId: row.id, attempts: row.scanAttempts + 1, err: (err as Error).message }, 'scan failed; file stays pending')
      await this.repo.markScanFailed(row.id, retryIn)
      return
    }
    if (result.verdict === 'infected') {
      if (await this.judge(row, 'infected', result.signature)) {
        await this.store.remove(row.id)
        this.log.warn({ fileId: row.id, ownerId: row.ownerId, signature: result.signature }, 'malware found; bytes deleted')
      }
      return
    }
    if (await this.judge(row, 'clean', null)) this.log.info({ fileId: row.id }, 'file scanned clean')
  }
}

import type { Readable } from 'node:stream'
import { FilesErrorCode } from '@palisade/contracts'
import { ProblemError } from '@palisade/platform'
import type { FileRow } from '../db/schema.js'
import type { DiskBlobStore } from '../storage/disk-store.js'
import { IntegrityError, rangeStream, SealStream, type SealedBlob } from './chunked.js'
import { KeyRingError, type KeyRing, type WrappedKey } from './keyring.js'

/** A blob failed its check (tag, size or hash): reported once per read, then refused. */
export interface IntegrityReport {
  fileId: string
  reason: string
}

/**
 * Files at rest: every blob sealed under its own random data key, wrapped by the key ring's KEK.
 * The only way in or out of the blob store for file bytes, so nothing reads a blob unverified.
 */
export class FileVault {
  constructor(
    readonly keys: KeyRing,
    private readonly store: DiskBlobStore
  ) {}

  /** A data key for a new file and the stream that seals its bytes on their way to disk. */
  sealer(fileId: string): { seal: SealStream; dataKey: Buffer; wrapped: WrappedKey } {
    const { dataKey, keyId, wrappedKey } = this.keys.newDataKey(fileId)
    return { seal: new SealStream(dataKey, fileId), dataKey, wrapped: { keyId, wrappedKey } }
  }

  /**
   * What decrypting a row needs. A row stored before encryption at rest (no key) is refused: its
   * bytes are plaintext and were never authenticated (services/files/README.md, "At rest").
   */
  blobOf(row: Pick<FileRow, 'id' | 'keyId' | 'wrappedKey' | 'size' | 'sha256'>): SealedBlob {
    if (!row.keyId || !row.wrappedKey) {
      throw new ProblemError(409, FilesErrorCode.notEncrypted, 'The file was stored before encryption at rest and cannot be served')
    }
    try {
      return { fileId: row.id, dataKey: this.keys.unwrap({ keyId: row.keyId, wrappedKey: row.wrappedKey }, row.id), size: row.size, sha256: row.sha256 }
    } catch (err) {
      // An unknown key id is a configuration mistake; a wrapped key that fails is tampering.
      if (err instanceof KeyRingError) throw new IntegrityError(err.message)
      throw err
    }
  }

  /** Plaintext bytes start..end of a stored file, or undefined when its blob is gone. */
  async read(row: FileRow, start: number, end: number): Promise<Readable | undefined> {
    const blob = this.blobOf(row)
    const handle = await this.store.open(row.id)
    if (!handle) return undefined
    return await rangeStream(handle, blob, start, end)
  }

  /** The same over a temp file not yet committed (sniffing before the row exists). */
  async readTemp(path: string, blob: SealedBlob): Promise<Readable> {
    const handle = await this.store.openTemp(path)
    return await rangeStream(handle, blob, 0, Math.max(0, blob.size - 1))
  }

  /** Reads the whole file, discarding it: throws IntegrityError unless every chunk and the hash check out. */
  async verify(row: FileRow): Promise<boolean> {
    const stream = await this.read(row, 0, row.size - 1)
    if (!stream) return false
    for await (const _ of stream) {
      // only the checks matter
    }
    return true
  }
}

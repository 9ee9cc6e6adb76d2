import { randomUUID } from 'node:crypto'
import type { WriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const TEMP_NAME = /^[0-9a-f-]{36}\.part$/
/** a temp file or an uncommitted blob this old belongs to no live upload */
export const STALE_AFTER_MS = 60 * 60 * 1000

function ignoreMissing(err: unknown): void {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    ignoreMissing(err)
    return []
  }
}

export interface TempBlob {
  path: string
  stream: WriteStream
}

/**
 * Blobs on a local directory, keyed only by server-made UUIDs:
 *   <root>/tmp/<uuid>.part        uploads in progress (created O_EXCL, mode 0600)
 *   <root>/objects/<ab>/<uuid>    stored files (first two hex digits shard the directory)
 * Nothing a client sends ever becomes part of a path. An S3-compatible store can replace it behind
 * the same few methods.
 */
export class DiskBlobStore {
  readonly tmpDir: string
  readonly objectsDir: string
  /** shard directories known to exist: created once, not asked for again on every commit */
  private readonly shards = new Set<string>()

  constructor(readonly root: string) {
    this.tmpDir = join(root, 'tmp')
    this.objectsDir = join(root, 'objects')
  }

  /** Creates the directories and removes temp files a crashed process left behind. */
  async init(staleAfterMs = STALE_AFTER_MS): Promise<number> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 })
    await mkdir(this.objectsDir, { recursive: true, mode: 0o700 })
    return this.removeStaleTemps(staleAfterMs)
  }

  /** Temp files untouched for `staleAfterMs`: uploads whose process died (start and every sweep). */
  async removeStaleTemps(staleAfterMs = STALE_AFTER_MS): Promise<number> {
    let removed = 0
    for (const name of await readdir(this.tmpDir)) {
      if (!TEMP_NAME.test(name)) continue
      const path = join(this.tmpDir, name)
      try {
        const st = await stat(path)
        if (Date.now() - st.mtimeMs > staleAfterMs) {
          await unlink(path)
          removed++
        }
      } catch (err) {
        ignoreMissing(err)
      }
    }
    return removed
  }

  /**
   * A new temp file that nobody else can have opened: random name, O_CREAT|O_EXCL, 0600. Opened
   * before it is returned, so a later discard can never race the creation and leave it behind.
   */
  async createTemp(): Promise<TempBlob> {
    const path = join(this.tmpDir, `${randomUUID()}.part`)
    const handle = await open(path, 'wx', 0o600)
    const stream = handle.createWriteStream({ flush: true, highWaterMark: 64 * 1024 }) as unknown as WriteStream
    return { path, stream }
  }

  objectPath(id: string): string {
    if (!UUID.test(id)) throw new Error('invalid blob id')
    return join(this.objectsDir, id.slice(0, 2), id)
  }

  /** Moves a finished temp file into place (same filesystem: an atomic rename). */
  async commit(tempPath: string, id: string): Promise<void> {
    const target = this.objectPath(id)
    const shard = id.slice(0, 2)
    if (!this.shards.has(shard)) {
      await mkdir(join(this.objectsDir, shard), { recursive: true, mode: 0o700 })
      this.shards.add(shard)
    }
    try {
      await rename(tempPath, target)
    } catch (err) {
      // The shard was removed behind our back (an operator tidying up): make it again, once.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !this.shards.delete(shard)) throw err
      await mkdir(join(this.objectsDir, shard), { recursive: true, mode: 0o700 })
      this.shards.add(shard)
      await rename(tempPath, target)
    }
  }

  /** An open handle: a concurrent delete cannot cut a download short once it has started. */
  async open(id: string): Promise<FileHandle | undefined> {
    try {
      return await open(this.objectPath(id), 'r')
    } catch (err) {
      ignoreMissing(err)
      return undefined
    }
  }

  /**
   * Ids of stored blobs last written more than `olderThanMs` ago, shard by shard (the sweep's
   * orphan walk). Younger ones may belong to an upload whose transaction has not committed yet.
   */
  async *storedIds(olderThanMs: number): AsyncGenerator<string> {
    const shards = await readdirOrEmpty(this.objectsDir)
    for (const shard of shards) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue
      const names = await readdirOrEmpty(join(this.objectsDir, shard))
      for (const name of names) {
        if (!UUID.test(name) || !name.startsWith(shard)) continue
        try {
          const st = await stat(join(this.objectsDir, shard, name))
          if (Date.now() - st.mtimeMs > olderThanMs) yield name
        } catch (err) {
          ignoreMissing(err)
        }
      }
    }
  }

  /** A temp file of this store (only paths createTemp made: `tmp/<uuid>.part`). */
  async openTemp(path: string): Promise<FileHandle> {
    if (dirname(path) !== this.tmpDir || !TEMP_NAME.test(basename(path))) throw new Error('not a temp file of this store')
    return open(path, 'r')
  }

  async remove(id: string): Promise<void> {
    await unlink(this.objectPath(id)).catch(ignoreMissing)
  }

  async discardTemp(path: string): Promise<void> {
    await unlink(path).catch(ignoreMissing)
  }
}

import { copyFile, lstat, mkdir, readdir } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { fileSha256, type BackupFile } from './manifest.js'

/** Regular files under `root`, as sorted `/`-separated relative paths; symlinks and sockets are refused. */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) await walk(path)
      else if (entry.isFile()) out.push(relative(root, path).split(sep).join('/'))
      else throw new Error(`${path}: not a regular file or directory`)
    }
  }
  await walk(root)
  return out.sort()
}

export async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true
    throw err
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch {
    return false
  }
}

/**
 * Copies every file of `from` to `to`/`prefix`/… (mode 0600 under 0700 directories) and returns
 * their manifest entries, hashed from the copy: what the manifest vouches for is what was written.
 */
export async function copyTree(from: string, to: string, prefix: string, paths: string[]): Promise<BackupFile[]> {
  const entries: BackupFile[] = []
  for (const rel of paths) {
    const target = join(to, prefix, rel)
    await mkdir(dirname(target), { recursive: true, mode: 0o700 })
    await copyFile(join(from, rel), target)
    entries.push({ path: `${prefix}/${rel}`, ...(await fileSha256(target)) })
  }
  return entries
}

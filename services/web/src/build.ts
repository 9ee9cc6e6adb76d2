import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const DEFAULT_PUBLIC_DIR = join(PACKAGE_DIR, 'dist', 'public')

function newestMtime(dir: string): number {
  let newest = 0
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name)
    newest = Math.max(newest, name.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

/**
 * Runs `vite build` when the built app is missing or older than its sources (development only:
 * the launcher, the tests). Returns whether it built.
 */
export function buildIfStale(): boolean {
  const index = join(DEFAULT_PUBLIC_DIR, 'index.html')
  const sources = Math.max(newestMtime(join(PACKAGE_DIR, 'client')), statSync(join(PACKAGE_DIR, 'vite.config.ts')).mtimeMs)
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return false
  const vite = join(dirname(createRequire(join(PACKAGE_DIR, 'package.json')).resolve('vite/package.json')), 'bin', 'vite.js')
  // Built beside and swapped in, so a second process starting at the same moment never reads a
  // half-emptied directory.
  const tmp = `${DEFAULT_PUBLIC_DIR}.tmp-${process.pid}`
  const old = `${DEFAULT_PUBLIC_DIR}.old-${process.pid}`
  const r = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn', '--outDir', tmp], { cwd: PACKAGE_DIR, stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true })
    throw new Error(`vite build failed (exit ${r.status})`)
  }
  try {
    renameSync(DEFAULT_PUBLIC_DIR, old)
  } catch {}
  try {
    renameSync(tmp, DEFAULT_PUBLIC_DIR)
  } catch {
    rmSync(tmp, { recursive: true, force: true }) // another process swapped its fresh build in first
  }
  rmSync(old, { recursive: true, force: true })
  return true
}

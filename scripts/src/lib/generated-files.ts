import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { REPO_ROOT } from './paths.js'

/**
 * Writes generated files under `dir` that differ from what is committed, or with `check` only lists
 * them; exits 1 when checking finds one stale. Shared by the `gen:*` commands.
 */
export function writeGenerated(dir: string, files: Record<string, string>, command: string, check: boolean): void {
  const shown = relative(REPO_ROOT, dir)
  let stale = 0
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name)
    let current = ''
    try {
      current = readFileSync(path, 'utf8')
    } catch {}
    if (current === text) continue
    stale++
    if (check) console.error(`${shown}/${name} is out of date: run ${command}`)
    else {
      mkdirSync(dirname(path), { recursive: true })
      writeFileSync(path, text)
      console.log(`wrote ${shown}/${name}`)
    }
  }
  if (check && stale > 0) process.exit(1)
  if (stale === 0) console.log(`${shown} is up to date`)
}

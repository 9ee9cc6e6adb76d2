import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'

/** Full path of an executable found on PATH, or undefined (no shell involved). */
export function which(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      if (statSync(candidate).isFile()) return candidate
    } catch {}
  }
  return undefined
}

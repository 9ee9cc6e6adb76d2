import { readFileSync } from 'node:fs'

/** `file:<path>` values are read from the file (compose secrets); anything else is the value itself. */
export function secretValue(v: string): string {
  return v.startsWith('file:') ? readFileSync(v.slice(5), 'utf8').trim() : v
}

import { canonicalHeaderName } from '@palisade/contracts'

const SEPARATORS = ['-', '_', '.'] as const

/**
 * Every spelling of a dash-separated header name that `canonicalHeaderName` folds back onto it:
 * each separator position may be `-`, `_` or `.` (3^gaps names). Case does not matter to the
 * proxies we feed this list to (Go and Node both compare header names case-insensitively), so
 * only the separators vary. The canonical dash form comes first.
 */
export function headerSpellings(canonical: string): string[] {
  const parts = canonical.toLowerCase().split('-')
  let names = [parts[0]!]
  for (const part of parts.slice(1)) {
    names = names.flatMap((prefix) => SEPARATORS.map((sep) => `${prefix}${sep}${part}`))
  }
  const out = names.map(titleCase)
  for (const n of out) {
    if (canonicalHeaderName(n) !== canonical.toLowerCase()) throw new Error(`spelling ${n} does not fold onto ${canonical}`)
  }
  return out
}

/** `x_authenticated.user` → `X_Authenticated.User` (cosmetic: how the names read in YAML). */
function titleCase(name: string): string {
  return name.replace(/(^|[-_.])([a-z])/g, (_m, sep: string, ch: string) => sep + ch.toUpperCase())
}

import { ErrorCode } from '@palisade/contracts'
import { problems } from '@palisade/platform'

/**
 * Opaque paging cursors: base64url of `<kind>:<position>`. The position is only ever used inside a
 * query that is already restricted to what the caller may see, so a forged cursor can at most move
 * within the caller's own data; a malformed one, or one of another kind, is a 400.
 */
export type CursorKind = 'c' | 'm' | 's' | 'u'

export function encodeCursor(kind: CursorKind, position: string | number): string {
  return Buffer.from(`${kind}:${position}`, 'utf8').toString('base64url')
}

const POSITION: Record<CursorKind, RegExp> = {
  c: /^[1-9][0-9]{0,15}$/,
  m: /^[1-9][0-9]{0,15}$/,
  s: /^[1-9][0-9]{0,15}$/,
  u: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
}

export function decodeCursor(kind: CursorKind, cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  const sep = text.indexOf(':')
  const position = text.slice(sep + 1)
  if (sep !== 1 || text[0] !== kind || !POSITION[kind].test(position) || encodeCursor(kind, position) !== cursor) {
    throw problems.badRequest('Invalid cursor', ErrorCode.validationFailed)
  }
  return position
}

export function decodeSeqCursor(kind: 'c' | 'm' | 's', cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined
  const n = Number(decodeCursor(kind, cursor))
  if (!Number.isSafeInteger(n)) throw problems.badRequest('Invalid cursor', ErrorCode.validationFailed)
  return n
}

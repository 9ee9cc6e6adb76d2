import { ErrorCode } from '@palisade/contracts'
import { problems } from './problem.js'

/** How a cursor's position is written and read back; `parse` answers undefined for anything invalid. */
export interface CursorPosition<T> {
  format(value: T): string
  parse(text: string): T | undefined
}

export interface CursorCodec<T> {
  encode(value: T): string
  /** The position, or a 400 problem for a malformed, foreign or out-of-range cursor. */
  decode(cursor: string): T
  decodeOptional(cursor: string | undefined): T | undefined
}

/**
 * Opaque paging cursors for every service: base64url of `<kind>:<position>`. A cursor is accepted
 * only when it re-encodes to exactly the string given, so no second spelling of a position (padding,
 * leading zeros, stray bytes) and no value the database would reject ever reaches a query.
 */
export function cursorCodec<T>(kind: string, position: CursorPosition<T>): CursorCodec<T> {
  const prefix = `${kind}:`
  const encode = (value: T): string => Buffer.from(prefix + position.format(value), 'utf8').toString('base64url')
  const decode = (cursor: string): T => {
    const text = Buffer.from(cursor, 'base64url').toString('utf8')
    const value = text.startsWith(prefix) ? position.parse(text.slice(prefix.length)) : undefined
    if (value === undefined || encode(value) !== cursor) throw problems.badRequest('Invalid cursor', ErrorCode.validationFailed)
    return value
  }
  return { encode, decode, decodeOptional: (cursor) => (cursor === undefined ? undefined : decode(cursor)) }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** 9999-12-31T23:59:59.999Z: times past it are no row's, and PostgreSQL's and Date's ranges differ. */
const LATEST_CURSOR_MS = 253_402_300_799_999

/** A positive bigint sequence number that JavaScript holds exactly. */
export const seqPosition: CursorPosition<number> = {
  format: (seq) => String(seq),
  parse: (text) => {
    if (!/^[1-9][0-9]{0,15}$/.test(text)) return undefined
    const n = Number(text)
    return Number.isSafeInteger(n) ? n : undefined
  }
}

export const uuidPosition: CursorPosition<string> = {
  format: (id) => id,
  parse: (text) => (UUID.test(text) ? text : undefined)
}

/** (created at, id) keyset position: epoch milliseconds between 1970 and 9999, and a UUID. */
export const timeIdPosition: CursorPosition<{ at: Date; id: string }> = {
  format: ({ at, id }) => `${at.getTime()}.${id}`,
  parse: (text) => {
    const match = /^(0|[1-9][0-9]{0,14})\.(.+)$/.exec(text)
    if (!match || !UUID.test(match[2]!)) return undefined
    const ms = Number(match[1])
    return ms <= LATEST_CURSOR_MS ? { at: new Date(ms), id: match[2]! } : undefined
  }
}

import { and, desc, eq, lt, or, type SQL } from 'drizzle-orm'
import type { AnyPgColumn } from 'drizzle-orm/pg-core'

/** A table's keyset columns: lists run newest first by (created at, id), the id breaking ties. */
export interface KeysetColumns {
  createdAt: AnyPgColumn
  id: AnyPgColumn
}

/** The rows after `cursor` (the last row of the previous page) in newest-first order; all without one. */
export function afterCursor(table: KeysetColumns, cursor: { at: Date; id: string } | undefined): SQL | undefined {
  return cursor ? or(lt(table.createdAt, cursor.at), and(eq(table.createdAt, cursor.at), lt(table.id, cursor.id))) : undefined
}

/** The order those pages are cut from. */
export function newestFirst(table: KeysetColumns): SQL[] {
  return [desc(table.createdAt), desc(table.id)]
}

/**
 * A conversation's member ids as one space-separated string, from SQL (`$param` is the
 * conversation id). Events fan out to every member, and node-postgres parses a uuid[] of a
 * 2 000-member conversation character by character; splitting one string costs a fraction of it.
 */
export const memberIdsSql = (param: string): string => `(SELECT string_agg(user_id::text, ' ') FROM chat.members WHERE conversation_id = ${param})`

/** What memberIdsSql (or any string_agg of ids with ' ') returned; null stays null (no rows). */
export function splitIds(joined: string | null): string[] | null {
  if (joined === null) return null
  return joined === '' ? [] : joined.split(' ')
}

/** Keyset pagination cursor: (createdAt, id) of the last item, base64url. */
export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url')
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export function decodeCursor(cursor: string): { createdAt: Date; id: string } | undefined {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|')
  if (!at || !id || !UUID.test(id)) return undefined
  const createdAt = new Date(at)
  return Number.isNaN(createdAt.getTime()) ? undefined : { createdAt, id }
}

import type pg from 'pg'

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** Ordinary tables of a schema with their stored (not generated, not dropped) columns in order. */
export async function schemaTables(client: pg.Client, schema: string): Promise<{ name: string; columns: string[] }[]> {
  const r = await client.query<{ table: string; columns: string[] }>(
    `SELECT c.relname AS table, array_agg(a.attname::text ORDER BY a.attnum) AS columns
     FROM pg_catalog.pg_class c
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
     WHERE n.nspname = $1 AND c.relkind = 'r'
     GROUP BY c.relname ORDER BY c.relname`,
    [schema]
  )
  return r.rows.map((row) => ({ name: row.table, columns: row.columns }))
}

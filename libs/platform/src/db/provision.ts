import pg from 'pg'

const IDENT = /^[a-z][a-z0-9_]{0,62}$/

export interface ServiceDatabaseRole {
  service: string
  role: string
  password: string
}

/**
 * Gives a service its own login role and a schema it owns, in a database where no other role can
 * read it: the isolation the architecture promises ("one schema + one role per service"). Run as
 * an administrator by the launcher or the compose init; idempotent.
 */
export async function provisionServiceRoles(adminUrl: string, database: string, roles: ServiceDatabaseRole[]): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    if (!IDENT.test(database)) throw new Error(`invalid database name ${database}`)
    await client.query(`REVOKE ALL ON DATABASE "${database}" FROM PUBLIC`)
    await client.query('REVOKE ALL ON SCHEMA public FROM PUBLIC')
    for (const { service, role, password } of roles) {
      if (!IDENT.test(role) || !IDENT.test(service)) throw new Error(`invalid role or schema name for ${service}`)
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])
      const pw = client.escapeLiteral(password)
      if (exists.rowCount === 0) {
        await client.query(`CREATE ROLE "${role}" LOGIN PASSWORD ${pw} NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT`)
      } else {
        await client.query(`ALTER ROLE "${role}" LOGIN PASSWORD ${pw} NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT`)
      }
      // CREATE too: PostgreSQL checks it before IF NOT EXISTS, and every service's migrations (and
      // drizzle's own bookkeeping) start with `CREATE SCHEMA IF NOT EXISTS "<service>"`. It lets a
      // role create schemas of its own; it never grants anything on another role's schema.
      await client.query(`GRANT CONNECT, CREATE ON DATABASE "${database}" TO "${role}"`)
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${service}" AUTHORIZATION "${role}"`)
      await client.query(`ALTER SCHEMA "${service}" OWNER TO "${role}"`)
      await client.query(`REVOKE ALL ON SCHEMA "${service}" FROM PUBLIC`)
    }
  } finally {
    await client.end()
  }
}

import pg from 'pg'

const IDENT = /^[a-z][a-z0-9_]{0,62}$/

export interface ServiceDatabaseRole {
  /** the service, which is also the name of the schema it owns */
  service: string
  role: string
  password: string
}

/**
 * The one naming rule for service databases, used by the launcher, compose (gen:secrets, db-init)
 * and the isolation suite: service `chat` in database `palisade` owns schema `chat` and logs in as
 * role `palisade_chat`. Roles are cluster-wide while schemas belong to one database, so the role
 * carries the database name and several stacks can share one cluster (CI, a dev server).
 */
export function serviceRoleName(database: string, service: string): string {
  return `${database}_${service}`.replace(/[^a-z0-9_]/g, '_').slice(0, 63)
}

/**
 * The search_path every service connection is pinned to. pg_catalog comes first so nothing can
 * shadow a built-in (PostgreSQL only searches it first implicitly when it is not listed), then the
 * service's own schema, and pg_temp last so temporary objects never shadow tables. No `$user` and
 * no `public`: those are names other roles could once create, and a function found there would run
 * with the caller's privileges.
 */
export function serviceSearchPath(schema: string): string {
  if (!IDENT.test(schema)) throw new Error(`invalid schema name ${schema}`)
  return `pg_catalog, ${schema}, pg_temp`
}

/**
 * Gives a service its own login role and a schema it owns, in a database where no other role can
 * read it: the isolation the architecture promises ("one schema + one role per service"). Run as
 * an administrator by the launcher or the compose init; idempotent, and it takes back privileges
 * older versions granted. Returns warnings about objects that suggest an earlier break-in (a
 * schema owned by a service role that is not its own); they are inert once search paths are pinned.
 *
 * What roles get: CONNECT on the database (not CREATE: no schemas, publications or trusted
 * extensions of their own; not TEMPORARY: no session objects that shadow tables), ownership of
 * their schema, nothing on `public`, and a search_path of pg_catalog, their schema, pg_temp.
 */
export async function provisionServiceRoles(adminUrl: string, database: string, roles: ServiceDatabaseRole[]): Promise<string[]> {
  if (!IDENT.test(database)) throw new Error(`invalid database name ${database}`)
  for (const { service, role } of roles) {
    if (!IDENT.test(role) || !IDENT.test(service)) throw new Error(`invalid role or schema name for ${service}`)
  }
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    await client.query(`REVOKE ALL ON DATABASE "${database}" FROM PUBLIC`)
    await client.query('REVOKE ALL ON SCHEMA public FROM PUBLIC')
    for (const { service, role, password } of roles) {
      const exists = await client.query('SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1', [role])
      const pw = client.escapeLiteral(password)
      if (exists.rowCount === 0) {
        await client.query(`CREATE ROLE "${role}" LOGIN PASSWORD ${pw} NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT`)
      } else {
        await client.query(`ALTER ROLE "${role}" LOGIN PASSWORD ${pw} NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT`)
      }
      await client.query(`REVOKE ALL ON DATABASE "${database}" FROM "${role}"`)
      await client.query(`GRANT CONNECT ON DATABASE "${database}" TO "${role}"`)
      await client.query(`REVOKE ALL ON SCHEMA public FROM "${role}"`)
      await client.query(`ALTER ROLE "${role}" SET search_path = ${serviceSearchPath(service)}`)
      await adoptSchema(client, database, service, role)
      await client.query(`REVOKE ALL ON SCHEMA "${service}" FROM PUBLIC`)
    }
    return await strayObjects(client, roles)
  } finally {
    await client.end()
  }
}

/**
 * Creates the service's schema owned by its role. A schema left by an earlier role of the same
 * service (compose named roles after the service before the naming rule) is handed over with
 * everything that role owned, and that role loses its access to the database.
 */
async function adoptSchema(client: pg.Client, database: string, service: string, role: string): Promise<void> {
  const current = await client.query<{ owner: string; superuser: boolean }>(
    `SELECT r.rolname AS owner, r.rolsuper AS superuser
     FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner WHERE n.nspname = $1`,
    [service]
  )
  const previous = current.rows[0]
  if (!previous) {
    await client.query(`CREATE SCHEMA "${service}" AUTHORIZATION "${role}"`)
    return
  }
  if (previous.owner !== role && previous.owner === service && !previous.superuser) {
    await client.query(`REASSIGN OWNED BY "${previous.owner}" TO "${role}"`)
    await client.query(`REVOKE ALL ON DATABASE "${database}" FROM "${previous.owner}"`)
  }
  await client.query(`ALTER SCHEMA "${service}" OWNER TO "${role}"`)
}

async function strayObjects(client: pg.Client, roles: ServiceDatabaseRole[]): Promise<string[]> {
  const r = await client.query<{ schema: string; owner: string }>(
    `SELECT n.nspname AS schema, r.rolname AS owner
     FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
     WHERE r.rolname = ANY($1) ORDER BY 1`,
    [roles.map((x) => x.role)]
  )
  const own = new Map(roles.map((x) => [x.role, x.service]))
  return r.rows
    .filter((x) => own.get(x.owner) !== x.schema)
    .map((x) => `schema "${x.schema}" is owned by service role ${x.owner} but is not its schema: inspect it and drop it`)
}

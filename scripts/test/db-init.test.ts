import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { adminUrlFromEnv, rolesFromDatabaseUrls } from '../src/deploy/db-roles.js'

t.test('roles come from the services\' own DATABASE_URL secrets', async (t) => {
  t.same(rolesFromDatabaseUrls(['postgres://chat:p%40ss@postgres:5432/palisade'], 'palisade'), [{ service: 'chat', role: 'chat', password: 'p@ss' }])
  t.throws(() => rolesFromDatabaseUrls(['postgres://chat@postgres:5432/palisade'], 'palisade'), /user and a password/)
  t.throws(() => rolesFromDatabaseUrls(['postgres://chat:x@postgres:5432/other'], 'palisade'), /not palisade/)
})

t.test('admin URL from libpq variables and a password file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dbinit-'))
  writeFileSync(join(dir, 'pw'), 's3cr3t/+\n')
  const { url, database } = adminUrlFromEnv({ PGHOST: 'db', PGPORT: '5433', PGDATABASE: 'palisade', PGUSER: 'postgres', POSTGRES_PASSWORD_FILE: join(dir, 'pw') })
  t.equal(database, 'palisade')
  const u = new URL(url)
  t.equal(decodeURIComponent(u.password), 's3cr3t/+')
  t.equal(u.host, 'db:5433')
  t.throws(() => adminUrlFromEnv({}), /POSTGRES_PASSWORD_FILE/)
})

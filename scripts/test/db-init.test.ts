import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AppServiceName } from '@palisade/contracts'
import { adminUrlFromEnv, rolesFromDatabaseUrls, stackDatabaseRoles } from '../src/deploy/db-roles.js'
import { ensureSecrets, serviceDatabaseUrl, writeComposeDatabaseUrls } from '../src/deploy/secrets.js'
import { DATA_SERVICES } from '../src/stack/services.js'

t.test("roles come from the services' own DATABASE_URL secrets, named by the one rule", async (t) => {
  t.same(rolesFromDatabaseUrls(['postgres://palisade_chat:p%40ss@postgres:5432/palisade'], 'palisade', ['chat', 'files']), [
    { service: 'chat', role: 'palisade_chat', password: 'p@ss' }
  ])
  t.throws(() => rolesFromDatabaseUrls(['postgres://palisade_chat@postgres:5432/palisade'], 'palisade', ['chat']), /user and a password/)
  t.throws(() => rolesFromDatabaseUrls(['postgres://palisade_chat:x@postgres:5432/other'], 'palisade', ['chat']), /not palisade/)
  t.throws(
    () => rolesFromDatabaseUrls(['postgres://chat:x@postgres:5432/palisade'], 'palisade', ['chat']),
    /not a service's role .*palisade_chat/,
    'the pre-rule name is refused'
  )
  t.throws(() => rolesFromDatabaseUrls(['postgres://palisade_billing:x@postgres:5432/palisade'], 'palisade', ['chat']), /not a service's role/)
})

t.test('launcher, compose and the isolation suite name roles alike', async (t) => {
  const passwords = { auth: 'a', chat: 'c', files: 'f', agents: 'g', gateway: 'w' } as Record<AppServiceName, string>
  const roles = stackDatabaseRoles('palisade', DATA_SERVICES, passwords)
  t.same(
    roles.map((r) => [r.service, r.role]),
    DATA_SERVICES.map((s) => [s, `palisade_${s}`])
  )
  const urls = DATA_SERVICES.map((s) => serviceDatabaseUrl(s, passwords[s], 'postgres', 5432, 'palisade'))
  t.same(rolesFromDatabaseUrls(urls, 'palisade', DATA_SERVICES), roles, 'db-init reads back what gen:secrets writes')
  t.equal(new URL(serviceDatabaseUrl('chat', 'c', 'h', 1, 'ci-42')).username, 'ci_42_chat', 'other databases get their own roles')
})

t.test('compose database URL secrets: 0600 unless asked otherwise, also when rewritten', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'secrets-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const secrets = ensureSecrets(dir)
  writeFileSync(join(dir, 'chat_database_url'), 'old\n', { mode: 0o644 })
  writeComposeDatabaseUrls(secrets, ['chat', 'files'])
  for (const s of ['chat', 'files']) {
    t.equal(statSync(join(dir, `${s}_database_url`)).mode & 0o777, 0o600, `${s}_database_url is 0600`)
    t.match(readFileSync(join(dir, `${s}_database_url`), 'utf8'), new RegExp(`^postgres://palisade_${s}:`))
  }
  writeComposeDatabaseUrls(secrets, ['chat'], 0o644)
  t.equal(statSync(join(dir, 'chat_database_url')).mode & 0o777, 0o644, 'the mode gen:secrets gives every secret (compose bind-mounts them)')
})

t.test('admin URL from libpq variables and a password file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dbinit-'))
  writeFileSync(join(dir, 'pw'), 's3cr3t/+\n')
  const { url, database } = adminUrlFromEnv({
    PGHOST: 'db',
    PGPORT: '5433',
    PGDATABASE: 'palisade',
    PGUSER: 'postgres',
    POSTGRES_PASSWORD_FILE: join(dir, 'pw')
  })
  t.equal(database, 'palisade')
  const u = new URL(url)
  t.equal(decodeURIComponent(u.password), 's3cr3t/+')
  t.equal(u.host, 'db:5433')
  t.throws(() => adminUrlFromEnv({}), /POSTGRES_PASSWORD_FILE/)
})

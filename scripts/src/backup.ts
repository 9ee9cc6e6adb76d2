// `pnpm backup [--out DIR] [--with-secrets]` (default DIR: a new `palisade-<time>` under
// PALISADE_BACKUP_DIR, else backups/): a consistent copy of every service's schema and the
// file store, with a manifest and checksums (docs/backups.md). Secrets only with --with-secrets.
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createBackup } from './backup/create.js'
import { installationFromEnv } from './backup/cli-env.js'
import { REPO_ROOT } from './lib/paths.js'
import { DATA_SERVICES } from './stack/services.js'

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, 'with-secrets': { type: 'boolean', default: false } } })
  const where = installationFromEnv(process.env)
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const out = resolve(values.out ?? join(process.env.PALISADE_BACKUP_DIR || join(REPO_ROOT, 'backups'), `palisade-${stamp}`))
  const manifest = await createBackup({
    databaseUrl: where.databaseUrl,
    schemas: DATA_SERVICES,
    filesDir: where.filesDir,
    out,
    ...(values['with-secrets'] ? { secretsDir: where.secretsDir } : {})
  })
  const rows = manifest.schemas.reduce((n, s) => n + s.tables.reduce((m, t) => m + t.rows, 0), 0)
  console.log(
    `backup: wrote ${out} (${manifest.schemas.length} schemas, ${rows} rows, ${manifest.files.length} blobs` +
      `${manifest.secrets ? `, ${manifest.secrets.length} SECRET files: store it accordingly` : ', no secrets'})`
  )
}

main().catch((err: Error) => {
  console.error(`backup: ${err.message}`)
  process.exit(1)
})

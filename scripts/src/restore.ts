// `pnpm restore --from DIR [--force] [--with-secrets]`: verifies the backup completely, then
// restores it into an empty (provisioned) database and file store (docs/backups.md).
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { installationFromEnv, migrationsFolder } from './backup/cli-env.js'
import { BackupError } from './backup/manifest.js'
import { restoreBackup, verifyBackup } from './backup/restore.js'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      from: { type: 'string' },
      force: { type: 'boolean', default: false },
      'with-secrets': { type: 'boolean', default: false },
      'verify-only': { type: 'boolean', default: false }
    }
  })
  if (!values.from) throw new BackupError('--from DIR (a backup directory) is required')
  const from = resolve(values.from)
  if (values['verify-only']) {
    const m = await verifyBackup(from)
    console.log(`restore: ${from} is intact (made ${m.createdAt}, ${m.files.length} blobs${m.secrets ? ', with secrets' : ''})`)
    return
  }
  const where = installationFromEnv(process.env)
  const m = await restoreBackup({
    from,
    databaseUrl: where.databaseUrl,
    filesDir: where.filesDir,
    migrationsFolder,
    force: values.force,
    ...(values['with-secrets'] ? { secretsDir: where.secretsDir } : {})
  })
  console.log(`restore: restored the backup made ${m.createdAt} (${m.schemas.map((s) => s.name).join(', ')}; ${m.files.length} blobs)`)
}

main().catch((err: Error) => {
  console.error(`restore: ${err instanceof BackupError ? err.message : err.message}`)
  process.exit(1)
})

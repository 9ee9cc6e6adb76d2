// `pnpm gen:secrets`: creates the secret files deploy/compose.yml mounts (deploy/secrets/, git-ignored).
// Existing files are kept, so running it again never rotates anything by accident. The files are
// world-readable (0644) because compose bind-mounts them into containers running as other users;
// the directory itself is 0700, which is what keeps them private on the host.
import { execFileSync } from 'node:child_process'
import { chmodSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { DEPLOY_DIR } from './lib/paths.js'
import { ensureSecrets, writeComposeDatabaseUrls } from './deploy/secrets.js'
import { DATA_SERVICES } from './stack/services.js'

const dir = join(DEPLOY_DIR, 'secrets')
// Kubernetes: `--db-host palisade-db-rw.palisade-db.svc` (the CloudNativePG cluster's rw Service)
const { values } = parseArgs({ options: { 'db-host': { type: 'string', default: 'postgres' } } })
const SECRET_FILE_MODE = 0o644
const secrets = ensureSecrets(dir, { fileMode: SECRET_FILE_MODE })
writeComposeDatabaseUrls(secrets, DATA_SERVICES, SECRET_FILE_MODE, values['db-host'])
if (!existsSync(join(dir, 'tls_cert'))) {
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '365',
        '-subj',
        '/CN=localhost',
        '-keyout',
        join(dir, 'tls_key'),
        '-out',
        join(dir, 'tls_cert')
      ],
      { stdio: 'ignore' }
    )
    console.log('wrote a self-signed certificate for localhost (replace tls_cert/tls_key with a real one)')
  } catch {
    console.log('openssl not found: put your certificate and key in deploy/secrets/tls_cert and tls_key')
  }
}
// Traefik runs as an unprivileged user: it must be able to read what compose bind-mounts.
for (const f of ['tls_cert', 'tls_key']) if (existsSync(join(dir, f))) chmodSync(join(dir, f), 0o644)
console.log(`secrets in ${dir}`)

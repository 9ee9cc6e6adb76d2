// `pnpm gen:kubernetes`: writes deploy/kubernetes/ (Kustomize base, example overlay, isolation Jobs,
// NATS Helm values) from the route table, the NATS contracts and scripts/src/kubernetes/settings.ts.
// `--check` exits 1 (and writes nothing) when the committed files are stale.
import { join } from 'node:path'
import { writeGenerated } from './lib/generated-files.js'
import { DEPLOY_DIR } from './lib/paths.js'
import { renderKubernetes } from './kubernetes/manifests.js'

writeGenerated(join(DEPLOY_DIR, 'kubernetes'), renderKubernetes(), 'pnpm gen:kubernetes', process.argv.includes('--check'))

// `pnpm gen:kubernetes`: writes deploy/kubernetes/ (Kustomize base, example overlay, isolation Jobs,
// NATS Helm values) from the route table, the NATS contracts and scripts/src/kubernetes/settings.ts.
// `--check` exits 1 (and writes nothing) when the committed files are stale.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { DEPLOY_DIR } from './lib/paths.js'
import { renderKubernetes } from './kubernetes/manifests.js'

const root = join(DEPLOY_DIR, 'kubernetes')
const check = process.argv.includes('--check')
let stale = 0
for (const [name, text] of Object.entries(renderKubernetes())) {
  const path = join(root, name)
  let current = ''
  try {
    current = readFileSync(path, 'utf8')
  } catch {}
  if (current === text) continue
  stale++
  if (check) console.error(`deploy/kubernetes/${name} is out of date: run pnpm gen:kubernetes`)
  else {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, text)
    console.log(`wrote deploy/kubernetes/${name}`)
  }
}
if (check && stale > 0) process.exit(1)
if (stale === 0) console.log('deploy/kubernetes is up to date')

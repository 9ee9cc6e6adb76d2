// `pnpm gen:nats`: writes deploy/nats/nats.conf from the NATS contracts; `--check` only compares.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEPLOY_DIR } from './lib/paths.js'
import { renderNatsConf } from './nats/config.js'

const path = join(DEPLOY_DIR, 'nats', 'nats.conf')
const text = renderNatsConf()
let current = ''
try {
  current = readFileSync(path, 'utf8')
} catch {}
if (current === text) console.log('deploy/nats/nats.conf is up to date')
else if (process.argv.includes('--check')) {
  console.error('deploy/nats/nats.conf is out of date: run pnpm gen:nats')
  process.exit(1)
} else {
  mkdirSync(join(DEPLOY_DIR, 'nats'), { recursive: true })
  writeFileSync(path, text)
  console.log('wrote deploy/nats/nats.conf')
}

// `pnpm gen:traefik`: writes deploy/traefik/{traefik,dynamic}.yml from the route table.
// `--check` exits 1 (and writes nothing) when the committed files are stale. The upload body limit
// follows FILES_MAX_BYTES from the environment (set it to the files service's value; unset: default).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEPLOY_DIR } from './lib/paths.js'
import { filesMaxBytesFrom, routesFor } from '@palisade/contracts'
import { renderProduction } from './traefik/config.js'

const dir = join(DEPLOY_DIR, 'traefik')
const check = process.argv.includes('--check')
const filesMaxBytes = filesMaxBytesFrom(process.env)
const files = renderProduction(routesFor(filesMaxBytes ? { filesMaxBytes } : {}))
let stale = 0
mkdirSync(dir, { recursive: true })
for (const [name, text] of Object.entries(files)) {
  const path = join(dir, name)
  let current = ''
  try {
    current = readFileSync(path, 'utf8')
  } catch {}
  if (current === text) continue
  stale++
  if (check) console.error(`deploy/traefik/${name} is out of date: run pnpm gen:traefik`)
  else {
    writeFileSync(path, text)
    console.log(`wrote deploy/traefik/${name}`)
  }
}
if (check && stale > 0) process.exit(1)
if (stale === 0) console.log('deploy/traefik is up to date')

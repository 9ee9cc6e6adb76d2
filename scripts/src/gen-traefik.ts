// `pnpm gen:traefik`: writes deploy/traefik/{traefik,dynamic}.yml from the route table.
// `--check` exits 1 (and writes nothing) when the committed files are stale. The upload body limit
// follows FILES_MAX_BYTES from the environment (set it to the files service's value; unset: default);
// OTEL_EXPORTER_OTLP_ENDPOINT, as the services read it, switches Traefik's OTLP tracing on (unset: off).
import { join } from 'node:path'
import { filesMaxBytesFrom, routesFor } from '@palisade/contracts'
import { writeGenerated } from './lib/generated-files.js'
import { DEPLOY_DIR } from './lib/paths.js'
import { renderProduction } from './traefik/config.js'

const filesMaxBytes = filesMaxBytesFrom(process.env)
const files = renderProduction(routesFor(filesMaxBytes ? { filesMaxBytes } : {}), { otlpEndpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined })
writeGenerated(join(DEPLOY_DIR, 'traefik'), files, 'pnpm gen:traefik', process.argv.includes('--check'))

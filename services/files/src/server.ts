import { MAX_REQUEST_SECONDS } from '@palisade/contracts'
import { runServer } from '@palisade/platform'
import filesApp, { FilesConfigSchema } from './app.js'

// Uploads of up to 26 MiB from slow links: the platform's 60 s would cut them off.
await runServer({ service: 'files', configSchema: FilesConfigSchema, app: filesApp, requestTimeoutMs: MAX_REQUEST_SECONDS * 1000 })

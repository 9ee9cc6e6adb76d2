import { runServer } from '@palisade/platform'
import webApp, { WebConfigSchema } from './app.js'

await runServer({ service: 'web', configSchema: WebConfigSchema, app: webApp })

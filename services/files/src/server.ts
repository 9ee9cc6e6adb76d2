import { runServer } from '@palisade/platform'
import filesApp, { FilesConfigSchema } from './app.js'

await runServer({ service: 'files', configSchema: FilesConfigSchema, app: filesApp })

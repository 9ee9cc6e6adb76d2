import { runServer } from '@palisade/platform'
import app, { AuthConfigSchema } from './app.js'

await runServer({ service: 'auth', configSchema: AuthConfigSchema, app })

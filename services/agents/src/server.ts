import { runServer } from '@palisade/platform'
import agentsApp, { AgentsConfigSchema } from './app.js'

await runServer({ service: 'agents', configSchema: AgentsConfigSchema, app: agentsApp })

import { runServer } from '@palisade/platform'
import chatApp, { ChatConfigSchema } from './app.js'

await runServer({ service: 'chat', configSchema: ChatConfigSchema, app: chatApp })

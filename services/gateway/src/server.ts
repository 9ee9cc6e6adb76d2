import { runServer } from '@palisade/platform'
import gatewayApp, { GatewayConfigSchema } from './app.js'

await runServer({ service: 'gateway', configSchema: GatewayConfigSchema, app: gatewayApp })

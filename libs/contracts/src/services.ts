/** Every deployable unit behind the edge. `web` serves the single-page app's static files. */
export const SERVICE_NAMES = ['auth', 'gateway', 'chat', 'files', 'agents', 'web'] as const
export type ServiceName = (typeof SERVICE_NAMES)[number]

/** Services that run application code and accept identity assertions (everything but static `web`). */
export const APP_SERVICES = ['auth', 'gateway', 'chat', 'files', 'agents'] as const
export type AppServiceName = (typeof APP_SERVICES)[number]

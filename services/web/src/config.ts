import { Type, type Static } from 'typebox'
import { BaseConfigSchema } from '@palisade/platform'

const { NODE_ENV, HOST, PORT, LOG_LEVEL, SHUTDOWN_GRACE_SECONDS, METRICS_HOST, METRICS_PORT, OTEL_EXPORTER_OTLP_ENDPOINT } = BaseConfigSchema.properties

/**
 * Web settings: only the shared ones the web uses. It owns no data, talks to no NATS and checks
 * no identity, so DATABASE_URL, NATS_* and AUTH_ISSUER are not read (the launcher's NATS password
 * file for it need not exist).
 */
export const WebConfigSchema = Type.Object({
  NODE_ENV,
  HOST,
  PORT,
  LOG_LEVEL,
  SHUTDOWN_GRACE_SECONDS,
  METRICS_HOST,
  METRICS_PORT,
  OTEL_EXPORTER_OTLP_ENDPOINT,
  /** directory holding `index.html`, `login.html` and `assets/` (the Vite output); default dist/public, built when stale outside production */
  WEB_PUBLIC_DIR: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 }))
})
export type WebConfig = Static<typeof WebConfigSchema>

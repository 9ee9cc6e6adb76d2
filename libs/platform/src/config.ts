import { readFileSync } from 'node:fs'
import { Type, type Static, type TObject, type TProperties } from 'typebox'
import { Value } from 'typebox/value'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Settings every service shares. Services extend this with their own properties. */
export const BaseConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], { default: 'development' }),
  HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 0 }),
  LOG_LEVEL: Type.Union(
    [
      Type.Literal('fatal'),
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('info'),
      Type.Literal('debug'),
      Type.Literal('trace'),
      Type.Literal('silent')
    ],
    { default: 'info' }
  ),
  DATABASE_URL: Type.String({ minLength: 1, pattern: '^postgres(ql)?://' }),
  NATS_URL: Type.String({ minLength: 1, default: 'nats://127.0.0.1:4222' }),
  NATS_USER: Type.Optional(Type.String({ minLength: 1 })),
  NATS_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  /** issuer of access tokens and identity assertions (`iss` claim) */
  AUTH_ISSUER: Type.String({ minLength: 1, default: 'palisade-auth' }),
  /** browser origins allowed to send cookie-authenticated unsafe requests, comma separated */
  ALLOWED_ORIGINS: Type.String({ default: 'http://localhost:8080' }),
  /** seconds to wait for in-flight work on shutdown before forcing exit */
  SHUTDOWN_GRACE_SECONDS: Type.Integer({ minimum: 1, maximum: 300, default: 10 }),
  /**
   * Proxies whose `X-Forwarded-For` is believed, comma-separated IPs and CIDRs: the edge that connects
   * to the service (compose sets Traefik's fixed address, `pnpm start` the local edge's). Every
   * per-address limit reads the client address through it. Empty is refused in production (all
   * clients would share the edge's address); `none` declares a service reached directly by clients.
   */
  TRUSTED_PROXIES: Type.String({ default: '', maxLength: 4096 }),
  /** address of the Prometheus metrics listener (`GET /metrics`); compose binds 0.0.0.0 on the internal network only */
  METRICS_HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  /** port of the metrics listener, apart from the service port so that the edge never routes it (0: any free port) */
  METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 9464 }),
  /** OTLP/HTTP collector (e.g. `http://otel-collector:4318`) that receives traces; unset: no export (trace ids still reach logs) */
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2048 }))
})
export type BaseConfig = Static<typeof BaseConfigSchema>

const SECRET_NAME = /PASSWORD|SECRET|KEY|TOKEN|DATABASE_URL/

/**
 * What a service's app plugin accepts: the settings every service shares, while the service's own
 * settings may be left out and take their schema defaults (tests and tools build configs in code).
 */
export type ConfigInput<C> = Omit<C, ServiceOwnKeys<C>> & Partial<Pick<C, ServiceOwnKeys<C>>>
type ServiceOwnKeys<C> = Exclude<keyof C, keyof BaseConfig>

/**
 * A complete configuration from the settings given: every one left out takes its schema `default`
 * (the only place defaults are written), values are converted to the schema's types and checked.
 * The first problem throws a ConfigError naming the setting, never echoing a secret's value.
 * loadConfig uses it for the environment; app plugins use it for configs built in code.
 */
export function completeConfig<P extends TProperties>(schema: TObject<P>, input: Readonly<Record<string, unknown>>): Static<TObject<P>> {
  const withDefaults = Value.Default(schema, { ...input })
  const converted = Value.Convert(schema, withDefaults)
  const errors = [...Value.Errors(schema, converted)]
  if (errors.length > 0) {
    const first = errors[0]!
    const path = first.instancePath.replace(/^\//, '')
    const name = path || (first.params as { requiredProperties?: string[] }).requiredProperties?.[0] || 'configuration'
    const shown = SECRET_NAME.test(name) || input[name] === undefined ? '' : ` (got ${JSON.stringify(input[name])})`
    const missing = input[name] === undefined && first.keyword === 'required'
    throw new ConfigError(missing ? `${name} is required` : `${name} is invalid: ${first.message}${shown}`)
  }
  return converted as Static<TObject<P>>
}

/**
 * Reads the properties of `schema` from `env`. A variable `X` may instead be given as `X_FILE`, the
 * path of a file holding the value (compose/Kubernetes secrets). Values are completed and checked
 * by completeConfig.
 */
export function loadConfig<P extends TProperties>(schema: TObject<P>, env: NodeJS.ProcessEnv = process.env): Static<TObject<P>> {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(schema.properties)) {
    const fileVar = `${key}_FILE`
    const direct = env[key]
    const file = env[fileVar]
    if (direct !== undefined && direct !== '' && file) throw new ConfigError(`${key} and ${fileVar} are both set; use one`)
    if (file) {
      try {
        raw[key] = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
      } catch (err) {
        throw new ConfigError(`${fileVar}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      }
    } else if (direct !== undefined && direct !== '') {
      raw[key] = direct
    }
  }
  return completeConfig(schema, raw)
}

/** Comma-separated list → trimmed, non-empty entries. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

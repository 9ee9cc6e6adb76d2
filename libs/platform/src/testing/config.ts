import { BaseConfigSchema, completeConfig, type BaseConfig } from '../config.js'

/** A complete BaseConfig for tests pointing at the given database and NATS (schema defaults for the rest). */
export function testConfig(overrides: Partial<BaseConfig> & Pick<BaseConfig, 'DATABASE_URL' | 'NATS_URL'>): BaseConfig {
  return completeConfig(BaseConfigSchema, { NODE_ENV: 'test', LOG_LEVEL: 'silent', SHUTDOWN_GRACE_SECONDS: 5, METRICS_PORT: 0, ...overrides })
}

import type { BaseConfig } from '../config.js'

/** A complete BaseConfig for tests pointing at the given database and NATS. */
export function testConfig(overrides: Partial<BaseConfig> & Pick<BaseConfig, 'DATABASE_URL' | 'NATS_URL'>): BaseConfig {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: 0,
    LOG_LEVEL: 'silent',
    AUTH_ISSUER: 'palisade-auth',
    ALLOWED_ORIGINS: 'http://localhost:8080',
    SHUTDOWN_GRACE_SECONDS: 5,
    TRUSTED_PROXIES: '',
    ...overrides
  }
}

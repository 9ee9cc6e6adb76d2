import type pg from 'pg'
import type { FastifyBaseLogger } from 'fastify'
import type { NatsConnection } from '@nats-io/transport-node'
import type { Database, Outbox } from '@palisade/platform'
import type { AuthConfig } from '../config.js'
import type { Keyring } from './keyring.js'
import type { TokenCache } from './token-cache.js'

/** What the feature modules (users, sessions, tokens, refresh rotation) work with; AuthCore holds one set. */
export interface AuthDeps {
  readonly db: Database
  readonly pool: pg.Pool
  readonly nats: NatsConnection
  /** revocations are written with the change that makes them (see sessions.ts) */
  readonly outbox: Outbox
  readonly keys: Keyring
  readonly config: AuthConfig
  readonly log: FastifyBaseLogger
  readonly cache: TokenCache
}

import type { FastifyInstance } from 'fastify'
import { AuthJwksGet, AuthSessionRevoked, AuthUserLookup } from '@palisade/contracts'
import { natsServe, natsSubscribe } from '@palisade/platform'
import { inArray } from 'drizzle-orm'
import { users } from '../db/schema.js'
import type { AuthCore } from '../lib/core.js'

/**
 * - `auth.jwks.get`: the public keys services verify assertions with.
 * - `auth.user.lookup`: public profiles (id, display name) for ids; unknown ids are left out.
 * - `auth.session.revoked`: every instance (no queue group) drops its caches for those sessions,
 *   including revocations another auth instance made.
 */
export function registerNatsHandlers(app: FastifyInstance, core: AuthCore): void {
  const subs = [
    natsServe(app.nats, AuthJwksGet, async () => core.keys.jwks, { log: app.log }),
    natsServe(
      app.nats,
      AuthUserLookup,
      async ({ userIds }) => {
        const rows = await core.db
          .select({ id: users.id, displayName: users.displayName })
          .from(users)
          .where(
            inArray(
              users.id,
              userIds.map((id) => id.toLowerCase())
            )
          )
        return { users: rows }
      },
      { log: app.log }
    ),
    natsSubscribe(app.nats, AuthSessionRevoked, (ev) => core.cache.revoke(ev.sessionIds), { log: app.log })
  ]
  app.addHook('preClose', async () => {
    for (const s of subs) s.unsubscribe()
  })
}

import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import {
  ProblemSchema,
  UserDirectoryQuerySchema,
  UserEmailLookupBodySchema,
  UserProfileListSchema,
  UserProfileSchema,
  type UserProfile
} from '@palisade/contracts'
import { identityOf, problems } from '@palisade/platform'
import { eq, inArray } from 'drizzle-orm'
import { users } from '../db/schema.js'
import type { AuthCore } from '../lib/core.js'
import type { AuthConfig } from '../config.js'
import { normaliseEmail } from './credentials.js'

export interface UserDirectoryOptions {
  core: AuthCore
  config: AuthConfig
}

/** Budget of id lookups per user and minute: the platform's default (display names for a page). */
const ID_LOOKUPS_PER_MINUTE = 600

/**
 * The user directory for signed-in people (registered inside the account routes, so behind the same
 * identity check and live-session check):
 * - `GET /auth/users?id=…&id=…` → `{ users }`: the profiles of the known ids, unknown ones left out.
 * - `POST /auth/users/lookup` `{ email }` → `{ id, displayName }` of the account with exactly that
 *   normalised address, 404 otherwise. It tells a signed-in user whether an address has an
 *   account, so it has its own tight budget per user (AUTH_USER_LOOKUPS_PER_MINUTE).
 * Only ids and display names ever leave: never an email.
 */
export const userDirectoryRoutes: FastifyPluginAsync<UserDirectoryOptions> = async (root, { core, config }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  const perUser = (form: string) => (req: FastifyRequest) => `users-${form}:${identityOf(req).userId}`

  app.get(
    '/auth/users',
    {
      config: { rateLimit: { keyGenerator: perUser('id'), max: ID_LOOKUPS_PER_MINUTE, timeWindow: 60_000 } },
      schema: { querystring: UserDirectoryQuerySchema, response: { 200: UserProfileListSchema, '4xx': ProblemSchema } }
    },
    async (request) => {
      const wanted = [...new Set(request.query.id.map((x) => x.toLowerCase()))]
      const rows = await core.db.select({ id: users.id, displayName: users.displayName }).from(users).where(inArray(users.id, wanted))
      const byId = new Map<string, UserProfile>(rows.map((r) => [r.id, r]))
      return { users: wanted.flatMap((x) => byId.get(x) ?? []) }
    }
  )

  app.post(
    '/auth/users/lookup',
    {
      config: { rateLimit: { keyGenerator: perUser('email'), max: config.AUTH_USER_LOOKUPS_PER_MINUTE, timeWindow: 60_000 } },
      // ' Alice@Example.com ' is a valid way to type an address (as at register and login).
      preValidation: async (request) => {
        const body = request.body as Record<string, unknown> | undefined
        if (body && typeof body === 'object' && typeof body.email === 'string') body.email = body.email.trim()
      },
      schema: { body: UserEmailLookupBodySchema, response: { 200: UserProfileSchema, '4xx': ProblemSchema } }
    },
    async (request) => {
      const [found] = await core.db
        .select({ id: users.id, displayName: users.displayName })
        .from(users)
        .where(eq(users.email, normaliseEmail(request.body.email)))
        .limit(1)
      if (!found) throw problems.notFound('No user with this email')
      return found
    }
  )
}

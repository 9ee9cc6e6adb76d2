import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ProblemSchema, UserDirectoryQuerySchema, UserProfileListSchema, UserProfileSchema, type UserProfile } from '@palisade/contracts'
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

/** Budget of the id form per user and minute: the platform's default (display names for a page). */
const ID_LOOKUPS_PER_MINUTE = 600

const isEmailLookup = (request: FastifyRequest): boolean => (request.query as { email?: unknown } | undefined)?.email !== undefined

/**
 * The user directory for signed-in people (registered inside the account routes, so behind the same
 * identity check and live-session check):
 * - `GET /auth/users?email=<addr>` → `{ id, displayName }` of the account with exactly that
 *   normalised address, 404 otherwise. It tells a signed-in user whether an address has an
 *   account, so it has its own tight budget per user (AUTH_USER_LOOKUPS_PER_MINUTE).
 * - `GET /auth/users?id=…&id=…` → `{ users }`: the profiles of the known ids, unknown ones left out.
 * Only ids and display names ever leave: never an email.
 */
export const userDirectoryRoutes: FastifyPluginAsync<UserDirectoryOptions> = async (root, { core, config }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()

  app.get(
    '/auth/users',
    {
      config: {
        rateLimit: {
          // Counted per form: a page resolving names does not eat into the email budget.
          keyGenerator: (req: FastifyRequest) => `users-${isEmailLookup(req) ? 'email' : 'id'}:${identityOf(req).userId}`,
          max: (req: FastifyRequest) => (isEmailLookup(req) ? config.AUTH_USER_LOOKUPS_PER_MINUTE : ID_LOOKUPS_PER_MINUTE),
          timeWindow: 60_000
        }
      },
      // ' Alice@Example.com ' is a valid way to type an address (as at register and login).
      preValidation: async (request) => {
        const q = request.query as Record<string, unknown> | undefined
        if (!q) return
        if (typeof q.email === 'string') q.email = q.email.trim()
        else if (Array.isArray(q.email)) q.email = q.email.map((e) => (typeof e === 'string' ? e.trim() : e))
      },
      schema: {
        querystring: UserDirectoryQuerySchema,
        response: { 200: Type.Union([UserProfileSchema, UserProfileListSchema]), '4xx': ProblemSchema }
      }
    },
    async (request) => {
      const { email, id } = request.query
      if ((email === undefined) === (id === undefined)) throw problems.badRequest('Give either email or id')
      if (email !== undefined) {
        const [found] = await core.db
          .select({ id: users.id, displayName: users.displayName })
          .from(users)
          .where(eq(users.email, normaliseEmail(email)))
          .limit(1)
        if (!found) throw problems.notFound('No user with this email')
        return found
      }
      const wanted = [...new Set(id!.map((x) => x.toLowerCase()))]
      const rows = await core.db.select({ id: users.id, displayName: users.displayName }).from(users).where(inArray(users.id, wanted))
      const byId = new Map<string, UserProfile>(rows.map((r) => [r.id, r]))
      return { users: wanted.flatMap((x) => byId.get(x) ?? []) }
    }
  )
}

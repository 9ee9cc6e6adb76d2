import type { FastifyPluginAsync } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import {
  AdminResetFactorsResponseSchema,
  AdminRoleBodySchema,
  AdminUserDetailSchema,
  AdminUserListSchema,
  AdminUserQuerySchema,
  IdParamsSchema,
  PasswordResetLinkSchema,
  ProblemSchema,
  type AdminUser,
  type Role
} from '@palisade/contracts'
import { identityOf, problems, withTransaction } from '@palisade/platform'
import { disableAccount, enableAccount, setRole } from '../../lib/admin-accounts.js'
import { listFactors, resetFactors } from '../../lib/factors.js'
import { listIdentities } from '../../lib/oidc/accounts.js'
import { issueResetLink, resetPath } from '../../lib/password-reset.js'
import { liveSessions } from '../../lib/session-view.js'
import { routeBodyLimit } from '../../lib/http.js'
import type { AdminRoutesOptions } from './index.js'

interface UserRow {
  id: string
  email: string
  display_name: string
  roles: Role[]
  disabled: boolean
  created_at: Date
  password_changed_at: Date
}
const COLUMNS = 'id, email, display_name, roles, disabled_at IS NOT NULL AS disabled, created_at, password_changed_at'
const view = (u: UserRow): AdminUser => ({
  id: u.id,
  email: u.email,
  displayName: u.display_name,
  roles: u.roles,
  disabled: u.disabled,
  createdAt: u.created_at.toISOString()
})

/** `%`, `_` and `\` typed by an admin are literal characters, not patterns. */
const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`)

/** Finding users, their sessions and factors, and every action on an account. Behind requireAdmin. */
export const adminUserRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (root, { core, ipOf }) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>()
  const bodyLimit = routeBodyLimit('/auth/admin')
  const audit = (request: Parameters<typeof identityOf>[0], event: Parameters<typeof core.audit>[0]['event'], target: string, details = {}) => {
    const actor = identityOf(request)
    return core.audit({ event, userId: actor.userId, sessionId: actor.sessionId, ip: ipOf(request), details: { target, ...details } })
  }
  const found = async (id: string): Promise<UserRow> => {
    const r = await core.pool.query<UserRow>(`SELECT ${COLUMNS} FROM auth.users WHERE id = $1`, [id.toLowerCase()])
    if (!r.rows[0]) throw problems.notFound('User not found')
    return r.rows[0]
  }

  app.get(
    '/auth/admin/users',
    { schema: { querystring: AdminUserQuerySchema, response: { 200: AdminUserListSchema, '4xx': ProblemSchema } } },
    async (request) => {
      const { q, after, limit = 50 } = request.query
      const like = `%${likeEscape((q ?? '').trim().toLowerCase())}%`
      const r = await core.pool.query<UserRow>(
        `SELECT ${COLUMNS} FROM auth.users
        WHERE (email LIKE $1 OR lower(display_name) LIKE $1) AND email > $2
        ORDER BY email LIMIT $3`,
        [like, after ?? '', limit]
      )
      return { users: r.rows.map(view) }
    }
  )

  app.get('/auth/admin/users/:id', { schema: { params: IdParamsSchema, response: { 200: AdminUserDetailSchema, '4xx': ProblemSchema } } }, async (request) => {
    const user = await found(request.params.id)
    const client = await core.pool.connect()
    try {
      const factors = await listFactors(client, user.id, user.password_changed_at)
      return {
        user: view(user),
        sessions: await liveSessions(core, user.id),
        factors: factors.map((f) => ({ ...f, createdAt: f.createdAt?.toISOString() ?? null })),
        identities: await listIdentities(core.pool, user.id)
      }
    } finally {
      client.release()
    }
  })

  const action = { bodyLimit, schema: { params: IdParamsSchema, response: { 204: Type.Null(), '4xx': ProblemSchema } } }

  app.post('/auth/admin/users/:id/disable', action, async (request, reply) => {
    const target = request.params.id.toLowerCase()
    const out = await disableAccount(core, target)
    await audit(request, 'admin.user_disabled', target, { revokedSessions: out.revoked.length, changed: out.changed })
    return reply.code(204).send(null)
  })

  app.post('/auth/admin/users/:id/enable', action, async (request, reply) => {
    const target = request.params.id.toLowerCase()
    const out = await enableAccount(core, target)
    await audit(request, 'admin.user_enabled', target, { changed: out.changed })
    return reply.code(204).send(null)
  })

  app.post(
    '/auth/admin/users/:id/role',
    { bodyLimit, schema: { params: IdParamsSchema, body: AdminRoleBodySchema, response: { 204: Type.Null(), '4xx': ProblemSchema } } },
    async (request, reply) => {
      const target = request.params.id.toLowerCase()
      const out = await setRole(core, target, request.body.role)
      await audit(request, 'admin.role_changed', target, { role: request.body.role, changed: out.changed, revokedSessions: out.revoked.length })
      return reply.code(204).send(null)
    }
  )

  app.post(
    '/auth/admin/users/:id/reset-factors',
    { bodyLimit, schema: { params: IdParamsSchema, response: { 200: AdminResetFactorsResponseSchema, '4xx': ProblemSchema } } },
    async (request) => {
      const user = await found(request.params.id)
      const reset = await withTransaction(core.pool, (client) => resetFactors(client, user.id))
      await audit(request, 'admin.factors_reset', user.id, { kinds: reset.join(',') })
      return { reset }
    }
  )

  app.post(
    '/auth/admin/users/:id/password-reset',
    { bodyLimit, schema: { params: IdParamsSchema, response: { 201: PasswordResetLinkSchema, '4xx': ProblemSchema } } },
    async (request, reply) => {
      const user = await found(request.params.id)
      const link = await issueResetLink(core, user.id, identityOf(request).userId)
      await audit(request, 'admin.reset_link_issued', user.id, { link: link.id })
      reply.header('cache-control', 'no-store')
      return reply.code(201).send({ token: link.token, path: resetPath(link.token), expiresAt: link.expiresAt.toISOString() })
    }
  )
}

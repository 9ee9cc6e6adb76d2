import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { ErrorCode } from '@palisade/contracts'
import { identityOf, ProblemError } from '@palisade/platform'
import type { AuthCore } from '../../lib/core.js'
import { assertRecentAuthentication } from '../../lib/step-up.js'
import { adminAuditRoutes } from './audit.js'
import { adminInviteRoutes } from './invites.js'
import { adminUserRoutes } from './users.js'

export interface AdminRoutesOptions {
  core: AuthCore
  ipOf: (request: FastifyRequest) => string
}

/**
 * THE gate of every admin route (`/auth/admin/*`): the assertion auth signed must say `admin` (roles
 * come only from auth: a sibling cannot mint one) and the database must still agree (an account
 * demoted or disabled a moment ago is refused even before its revocation has travelled). Every
 * admin action (anything but reading) also needs step-up: an authentication of this session within
 * the last 5 minutes, else 401 REAUTH_REQUIRED (the web client asks and retries).
 */
export function requireAdmin(core: AuthCore) {
  return async (request: FastifyRequest): Promise<void> => {
    const id = identityOf(request)
    if (!id.roles.includes('admin')) throw new ProblemError(403, ErrorCode.forbidden, 'Administrators only')
    const r = await core.pool.query("SELECT 1 FROM auth.users WHERE id = $1 AND roles = '{admin}'::text[] AND disabled_at IS NULL", [id.userId])
    if (!r.rowCount) throw new ProblemError(403, ErrorCode.forbidden, 'Administrators only')
    if (request.method !== 'GET') await assertRecentAuthentication(core, id)
  }
}

/** The admin API, registered inside the forward-authed account routes (identity + live session first). */
export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, opts) => {
  app.addHook('preHandler', requireAdmin(opts.core))
  await app.register(adminUserRoutes, opts)
  await app.register(adminInviteRoutes, opts)
  await app.register(adminAuditRoutes, opts)
}

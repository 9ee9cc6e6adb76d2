import { Type, type Static, type TSchema } from 'typebox'
import { UserProfileSchema } from './auth.js'
import { EmptyObjectSchema, UuidSchema, IsoDateSchema } from './common.js'
import { JwksSchema } from './identity.js'

/** A request/reply endpoint: subject plus the schemas both sides validate. */
export interface NatsEndpoint<Req extends TSchema = TSchema, Res extends TSchema = TSchema> {
  readonly subject: string
  readonly request: Req
  readonly response: Res
  /** service that answers it (and whose NATS user may subscribe to it) */
  readonly owner: string
  /** services whose NATS users may publish to it */
  readonly callers: readonly string[]
}

/** A fan-out event: subject (or subject pattern) plus payload schema. */
export interface NatsEvent<P extends TSchema = TSchema> {
  readonly subject: string
  readonly payload: P
  readonly publishers: readonly string[]
  readonly subscribers: readonly string[]
}

function endpoint<Req extends TSchema, Res extends TSchema>(e: NatsEndpoint<Req, Res>): NatsEndpoint<Req, Res> {
  return e
}

export const AuthJwksGet = endpoint({
  subject: 'auth.jwks.get',
  request: EmptyObjectSchema,
  response: JwksSchema,
  owner: 'auth',
  callers: ['gateway', 'chat', 'files', 'agents']
})

export const UserLookupRequestSchema = Type.Object(
  { userIds: Type.Array(UuidSchema, { minItems: 1, maxItems: 100, uniqueItems: true }) },
  { additionalProperties: false }
)
export const UserLookupResponseSchema = Type.Object({ users: Type.Array(UserProfileSchema, { maxItems: 100 }) }, { additionalProperties: false })
export const AuthUserLookup = endpoint({
  subject: 'auth.user.lookup',
  request: UserLookupRequestSchema,
  response: UserLookupResponseSchema,
  owner: 'auth',
  callers: ['gateway', 'chat', 'files', 'agents']
})

export const SessionRevokedEventSchema = Type.Object(
  {
    userId: UuidSchema,
    sessionIds: Type.Array(UuidSchema, { minItems: 1, maxItems: 1000 }),
    reason: Type.Union([
      Type.Literal('logout'),
      Type.Literal('logout-all'),
      Type.Literal('session-deleted'),
      Type.Literal('password-changed'),
      Type.Literal('refresh-reuse'),
      /** a personal access token (its id is the session id) revoked by its owner */
      Type.Literal('token-revoked'),
      Type.Literal('account-disabled'),
      Type.Literal('role-changed'),
      Type.Literal('password-reset'),
      Type.Literal('session-limit'),
      Type.Literal('admin')
    ]),
    at: IsoDateSchema
  },
  { additionalProperties: false }
)
export type SessionRevokedEvent = Static<typeof SessionRevokedEventSchema>
export const AuthSessionRevoked: NatsEvent<typeof SessionRevokedEventSchema> = {
  subject: 'auth.session.revoked',
  payload: SessionRevokedEventSchema,
  publishers: ['auth'],
  subscribers: ['auth', 'gateway', 'chat', 'files', 'agents']
}

/** Subjects owned by the other services; their payload schemas live beside their service contracts. */
export const SUBJECTS = {
  jwksGet: AuthJwksGet.subject,
  userLookup: AuthUserLookup.subject,
  sessionRevoked: AuthSessionRevoked.subject,
  chatAccessCheck: 'chat.access.check',
  chatMessageCreate: 'chat.message.create',
  filesMetaGet: 'files.meta.get',
  filesTextGet: 'files.text.get',
  userEvents: (userId: string) => `events.user.${userId}`,
  userEventsWildcard: 'events.user.*'
} as const

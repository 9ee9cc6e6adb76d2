import { Type, type Static } from 'typebox'
import { CHAT_LIMITS } from '@palisade/contracts'
import { BaseConfigSchema, type ConfigInput } from '@palisade/platform'

export const ChatConfigSchema = Type.Object({
  ...BaseConfigSchema.properties,
  /** most members a conversation may have */
  CHAT_MAX_MEMBERS: Type.Integer({ minimum: 2, maximum: CHAT_LIMITS.membersMax, default: 2000 }),
  /** HTTP requests per user per minute (the platform default is 600), counted per instance */
  CHAT_RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 600 }),
  /** memory for the newest messages of recently read conversations, and a quarter of it again for first pages of "my conversations", kept coherent by PostgreSQL notifications (0 = neither cache) */
  CHAT_MESSAGE_CACHE_MB: Type.Integer({ minimum: 0, maximum: 4096, default: 64 })
})
export type ChatConfig = Static<typeof ChatConfigSchema>

/** Settings with defaults may be left out by callers that build the config themselves (tests). */
export type ChatAppConfig = ConfigInput<ChatConfig>

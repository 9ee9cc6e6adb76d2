import { MentionErrorCode, ThreadErrorCode, type MassMention } from '@palisade/contracts'
import { ProblemError, problems } from '@palisade/platform'
import type { ChatStore } from './context.js'
import { massMentionsAllowed } from './mentions.js'

export interface MessageRefs {
  parentId?: string | undefined
  mentions?: string[] | undefined
  massMention?: MassMention | undefined
}

/**
 * Checks what a new message refers to against its conversation, for a sender already known to be a
 * member: the parent must be a message of this very conversation that is not itself a reply, every
 * mentioned id a current member, and `@here`/`@all` allowed by the owner. Foreign ids (another
 * conversation's message, a non-member) get the same answer as ids that do not exist.
 */
export async function checkMessageRefs(store: ChatStore, conversationId: string, refs: MessageRefs): Promise<void> {
  const checks: Promise<void>[] = []
  if (refs.parentId) {
    checks.push(
      store.pg
        .query<{ parent_id: string | null }>({
          name: 'chat_reply_parent',
          text: 'SELECT parent_id FROM chat.messages WHERE id = $1 AND conversation_id = $2',
          values: [refs.parentId, conversationId]
        })
        .then((r) => {
          const parent = r.rows[0]
          if (!parent) throw problems.badRequest('The message replied to is not in this conversation', ThreadErrorCode.parentNotFound)
          if (parent.parent_id) throw problems.badRequest('Replies go to the thread’s first message, not to a reply', ThreadErrorCode.nestedReply)
        })
    )
  }
  const mentions = refs.mentions ?? []
  if (mentions.length > 0) {
    checks.push(
      store.pg
        .query<{ n: number }>({
          name: 'chat_mentioned_members',
          text: 'SELECT count(*)::int AS n FROM chat.members WHERE conversation_id = $1 AND user_id = ANY($2::uuid[])',
          values: [conversationId, mentions]
        })
        .then((r) => {
          if (r.rows[0]?.n !== mentions.length) throw problems.badRequest('Only members of the conversation can be mentioned', MentionErrorCode.notMember)
        })
    )
  }
  if (refs.massMention) {
    checks.push(
      massMentionsAllowed(store, conversationId).then((allowed) => {
        if (!allowed) throw new ProblemError(403, MentionErrorCode.massMentionsDisabled, 'The owner has not allowed @here and @all in this conversation')
      })
    )
  }
  await Promise.all(checks)
}

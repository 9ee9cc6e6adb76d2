import type { NatsConnection } from '@nats-io/transport-node'
import type { FastifyBaseLogger } from 'fastify'
import { AUDIENCE_CHANGED, CHAT_LIMITS, ChatAgentMessageCreate, type RunUsage } from '@palisade/contracts'
import { natsRequest, ProblemError, type CallContext } from '@palisade/platform'
import type { RunEnd, RunRow } from '../db/store.js'

const CONTROL_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g

/** Model output as chat accepts it: printable text within the message size limit, never empty. */
export function messageText(output: string): string {
  let text = output.replace(CONTROL_CHARS, '').trim()
  if (text.length > CHAT_LIMITS.textMaxLength) text = `${text.slice(0, CHAT_LIMITS.textMaxLength - 1)}…`
  return text || '(the agent produced no text)'
}

/**
 * Posts a run's output to its conversation as the run's user, marked as the agent's. The client
 * message id `agent-run:<runId>` makes a retry idempotent: at most one message per run. chat answers
 * who the message went to (`memberIds`, read under the conversation's lock): the run's last events
 * go to them only, whatever membership events are still on their way. `audience`: the members the
 * run's reads were checked against; chat then refuses to post if anyone else is a member by then.
 */
export async function postOutput(
  nats: NatsConnection,
  log: FastifyBaseLogger,
  run: RunRow,
  call: CallContext,
  usage: RunUsage,
  output: string,
  audience?: readonly string[]
): Promise<RunEnd & { memberIds?: string[] }> {
  const text = messageText(output)
  const request = {
    conversationId: run.conversationId,
    text,
    clientMessageId: `agent-run:${run.id}`,
    agentRunId: run.id,
    ...(audience ? { audience: [...audience] } : {})
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await natsRequest(nats, ChatAgentMessageCreate, request, call, Math.min(run.limits.callTimeoutMs, 10_000))
      return { status: 'completed', usage: { ...usage }, output: text, messageId: res.message.id, memberIds: res.memberIds }
    } catch (err) {
      const status = err instanceof ProblemError ? err.statusCode : 500
      if (status === 409 && err instanceof ProblemError && err.code === AUDIENCE_CHANGED) {
        return {
          status: 'failed',
          usage: { ...usage },
          output: text,
          failureReason: 'audience_changed',
          failureDetail: 'a member joined who cannot read everything the run has read, so the run stopped'
        }
      }
      if (status === 404 || status === 403) {
        return {
          status: 'failed',
          usage: { ...usage },
          output: text,
          failureReason: 'access_revoked',
          failureDetail: 'the user is no longer a member of the conversation'
        }
      }
      if ((status === 503 || status === 504) && attempt < 2) continue
      log.warn({ status, code: err instanceof ProblemError ? err.code : undefined }, 'chat refused the agent message')
      return { status: 'failed', usage: { ...usage }, output: text, failureReason: 'post_failed', failureDetail: 'chat did not accept the message' }
    }
  }
}

import type { NatsConnection } from '@nats-io/transport-node'
import { ChatMembersGet } from '@palisade/contracts'
import { natsRequest, ProblemError, type CallContext } from '@palisade/platform'

/**
 * Something a run read: a conversation's messages, or a file. A file is readable by its owner and
 * by the members of the conversation it is shared with (the files service's one access rule).
 */
export type Source = { kind: 'conversation'; id: string } | { kind: 'file'; id: string; ownerId: string; conversationId: string | null }

/** What the model and the user are told when the rule refuses a read (one text: no existence oracle). */
export const FLOW_REFUSAL = 'refused by the information-flow rule: not every member of this conversation can read that source (or it does not exist)'

const key = (s: Source) => `${s.kind}:${s.id}`

/**
 * The information-flow rule of a run in conversation C: it may read a source only if every current
 * member of C can read it. The run's own user is always a member, so in a conversation where they
 * are alone the rule grants their full authority, and nothing else is needed for that case.
 *
 * Membership comes from chat over NATS (`chat.members.get` as the run's user), never from another
 * service's tables. The guard keeps the sources read so far: when C's members change, `recheck`
 * says whether all of them are still readable by the new member set.
 *
 * Race-free by order: a check notes the member-set version it started from and repeats when the
 * set changed meanwhile; an admitted source joins the read set synchronously after its check, before
 * anything is read, so a membership change arriving later always re-checks it.
 */
export class FlowGuard {
  private members: Set<string>
  private version = 0
  private readonly read = new Map<string, Source>()

  constructor(
    private readonly nats: NatsConnection,
    private readonly call: CallContext,
    readonly conversationId: string,
    memberIds: Iterable<string>,
    private readonly timeoutMs: () => number
  ) {
    this.members = new Set(memberIds)
  }

  /** true once the run has read any conversation or file data */
  get tainted(): boolean {
    return this.read.size > 0
  }

  /** true once the run read something other than its own conversation */
  get readBeyondConversation(): boolean {
    for (const s of this.read.values()) if (!(s.kind === 'conversation' && s.id === this.conversationId)) return true
    return false
  }

  get memberIds(): string[] {
    return [...this.members]
  }

  sources(): Source[] {
    return [...this.read.values()]
  }

  /** Replaces the member set; returns the ids that are new. */
  setMembers(ids: Iterable<string>): string[] {
    const next = new Set(ids)
    const added = [...next].filter((id) => !this.members.has(id))
    if (added.length > 0 || next.size !== this.members.size) this.version++
    this.members = next
    return added
  }

  addMember(id: string): boolean {
    if (this.members.has(id)) return false
    this.members.add(id)
    this.version++
    return true
  }

  removeMember(id: string): void {
    if (this.members.delete(id)) this.version++
  }

  /**
   * Admits a source if every current member can read it, recording it as read. The conversation
   * itself is always readable by its members.
   */
  async admit(source: Source): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const version = this.version
      const members = [...this.members]
      if (!(await this.readableBy(source, members))) return false
      if (version === this.version) {
        this.read.set(key(source), source)
        return true
      }
    }
    return false
  }

  /** The first source read so far that some current member cannot read, or undefined when all are fine. */
  async recheck(): Promise<Source | undefined> {
    const members = [...this.members]
    for (const source of this.read.values()) {
      if (!(await this.readableBy(source, members))) return source
    }
    return undefined
  }

  private async readableBy(source: Source, members: string[]): Promise<boolean> {
    // Alone: the user's full authority (the read itself still goes through chat or files as them).
    if (members.length === 1 && members[0] === this.call.userId) return true
    if (source.kind === 'conversation') {
      if (source.id === this.conversationId) return true
      const readers = await this.membersOf(source.id)
      return members.every((m) => readers.has(m))
    }
    if (source.conversationId === this.conversationId) return true
    const readers = source.conversationId ? await this.membersOf(source.conversationId) : new Set<string>()
    readers.add(source.ownerId)
    return members.every((m) => readers.has(m))
  }

  /**
   * Members of a conversation, asked as the run's user. Not a member (404): the user cannot tell,
   * so neither can the run — the empty set, which admits nothing that needs it.
   */
  private async membersOf(conversationId: string): Promise<Set<string>> {
    try {
      const res = await natsRequest(this.nats, ChatMembersGet, { conversationId }, this.call, this.timeoutMs())
      return new Set(res.memberIds)
    } catch (err) {
      if (err instanceof ProblemError && (err.statusCode === 404 || err.statusCode === 403)) return new Set()
      throw err
    }
  }
}

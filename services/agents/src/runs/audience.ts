/**
 * Who sees a run's stream: the conversation's members when the run was admitted, minus everyone who
 * left since. It only ever shrinks. Someone added during the run does not join it: the run's reads
 * were admitted for the members at its start, and the newcomer sees the posted message like the
 * rest of the history.
 */
export class RunAudience implements Iterable<string> {
  private readonly ids: Set<string>

  constructor(memberIds: Iterable<string>) {
    this.ids = new Set(memberIds)
  }

  get size(): number {
    return this.ids.size
  }

  has(userId: string): boolean {
    return this.ids.has(userId)
  }

  [Symbol.iterator](): Iterator<string> {
    return this.ids.values()
  }

  remove(userId: string): void {
    this.ids.delete(userId)
  }

  /** Keeps only those in a fresh member list (never adds anyone). */
  retain(memberIds: Iterable<string>): void {
    const current = new Set(memberIds)
    for (const id of this.ids) if (!current.has(id)) this.ids.delete(id)
  }

  /** The conversation is gone: nobody sees anything more of the run. */
  clear(): void {
    this.ids.clear()
  }
}

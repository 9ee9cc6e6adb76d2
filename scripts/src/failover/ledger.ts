/** What the simulated people did and saw: every send, every acknowledgement, every arrival. */

export interface SendRecord {
  clientMessageId: string
  personId: string
  conversationId: string
  /** first attempt (epoch ms) */
  sentAt: number
  /** when the API confirmed it (ack frame or HTTP 200/201) */
  ackedAt?: number
  messageId?: string
  /** attempts over the socket and over HTTP */
  socketAttempts: number
  httpAttempts: number
  /** gave up (a refusal, or no answer within the send deadline) */
  failed?: string
}

export interface Arrival {
  at: number
  via: 'socket' | 'catch-up'
}

export class Ledger {
  readonly sends = new Map<string, SendRecord>()
  /** message id → person id → first arrival */
  readonly arrivals = new Map<string, Map<string, Arrival>>()
  /** person id → arrival times, in order */
  readonly timeline = new Map<string, number[]>()
  /** conversation id → member person ids */
  readonly members = new Map<string, string[]>()
  /** what went wrong on the clients' side, by kind (closed sockets, 5xx answers, …) */
  readonly incidents = new Map<string, number>()

  note(kind: string): void {
    this.incidents.set(kind, (this.incidents.get(kind) ?? 0) + 1)
  }

  arrive(personId: string, messageId: string, at: number, via: Arrival['via']): void {
    let byPerson = this.arrivals.get(messageId)
    if (!byPerson) {
      byPerson = new Map()
      this.arrivals.set(messageId, byPerson)
    }
    if (byPerson.has(personId)) return
    byPerson.set(personId, { at, via })
    let times = this.timeline.get(personId)
    if (!times) {
      times = []
      this.timeline.set(personId, times)
    }
    times.push(at)
  }
}

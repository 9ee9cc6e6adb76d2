import pg from 'pg'

export interface ChannelListenerOptions {
  url: string
  /** application name shown in pg_stat_activity */
  name: string
  /** PostgreSQL channel (a plain lower-case identifier: LISTEN takes no parameters) */
  channel: string
  onNotification(payload: string): void
  /**
   * false when the connection is lost (notifications may be missed from now on), true once it
   * listens again. Whoever caches on the strength of notifications must drop everything on both.
   */
  onLiveChange(live: boolean): void
  onError?(err: Error): void
  /** first delay before reconnecting; doubles up to 5 s */
  reconnectDelayMs?: number
}

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/
const MAX_RECONNECT_DELAY_MS = 5000

/**
 * A dedicated connection that LISTENs on one channel and reconnects with backoff when it is lost.
 * PostgreSQL delivers a channel's notifications after commit, in commit order; this class only
 * promises to say (`onLiveChange`) whenever some may have been missed.
 */
export class ChannelListener {
  private client: pg.Client | null = null
  private live = false
  private closed = false
  private timer: NodeJS.Timeout | null = null
  private delayMs: number

  constructor(private readonly opts: ChannelListenerOptions) {
    if (!CHANNEL.test(opts.channel)) throw new Error(`invalid channel name: ${opts.channel}`)
    this.delayMs = opts.reconnectDelayMs ?? 100
  }

  get isLive(): boolean {
    return this.live
  }

  /** The backend process id of the listening connection (tests terminate it), or null. */
  get backendPid(): number | null {
    return (this.client as unknown as { processID?: number } | null)?.processID ?? null
  }

  /** Resolves after the first attempt, listening or not (a failed one keeps retrying in the background). */
  async start(): Promise<void> {
    await this.connect()
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    const client = this.client
    this.client = null
    this.setLive(false)
    if (client) await client.end().catch(() => {})
  }

  private setLive(live: boolean): void {
    if (this.live === live) return
    this.live = live
    if (!this.closed) this.opts.onLiveChange(live)
  }

  private async connect(): Promise<void> {
    if (this.closed) return
    const client = new pg.Client({ connectionString: this.opts.url, application_name: this.opts.name, keepAlive: true, connectionTimeoutMillis: 5000 })
    let lost = false
    const onLost = (err?: Error) => {
      if (lost) return
      lost = true
      if (err) this.opts.onError?.(err)
      if (this.client === client) this.client = null
      client.end().catch(() => {})
      this.setLive(false)
      this.scheduleReconnect()
    }
    client.on('error', onLost)
    client.on('end', () => onLost())
    client.on('notification', (msg) => {
      if (msg.channel === this.opts.channel && msg.payload !== undefined) this.opts.onNotification(msg.payload)
    })
    try {
      await client.connect()
      await client.query(`LISTEN ${this.opts.channel}`)
    } catch (err) {
      onLost(err as Error)
      return
    }
    if (this.closed || lost) {
      await client.end().catch(() => {})
      return
    }
    this.client = client
    this.delayMs = this.opts.reconnectDelayMs ?? 100
    this.setLive(true)
  }

  private scheduleReconnect(): void {
    if (this.closed || this.timer) return
    const delay = this.delayMs
    this.delayMs = Math.min(this.delayMs * 2, MAX_RECONNECT_DELAY_MS)
    this.timer = setTimeout(() => {
      this.timer = null
      void this.connect()
    }, delay)
    this.timer.unref()
  }
}

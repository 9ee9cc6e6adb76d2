import type { ClientFrame, ServerFrame } from '@palisade/contracts'
import { GATEWAY_CLOSE } from '@palisade/contracts/gateway-close'
import { refreshSession, goToLogin } from './api.js'

/** The gateway's close codes, from the contracts' import-free module (keeps TypeBox out of the bundle). */
export const CLOSE = GATEWAY_CLOSE

export interface RealtimeHandlers {
  onFrame(frame: ServerFrame): void
  /** after every hello but the first: catch up over HTTP on what happened while disconnected */
  onReconnected(): void
  onState(state: 'connecting' | 'online' | 'offline'): void
}

/** Full jitter exponential backoff: a random delay in [base/2, base] with base doubling up to 30 s. */
export function backoffDelay(attempt: number, random = Math.random): number {
  const base = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6))
  return Math.round(base / 2 + random() * (base / 2))
}

/**
 * One WebSocket to /ws with everything a browser tab needs: reconnect with backoff and jitter after
 * 1001, 1013, 4000 (lifetime) and network loss; renew the identity lease before it ends (plain
 * GET /ws); refresh the cookie and reconnect after 4002; go to /login after 4001 (revoked) or when
 * the handshake is refused and the session cannot be refreshed.
 */
export class Realtime {
  private ws: WebSocket | undefined
  private attempt = 0
  private connectedOnce = false
  private timer: ReturnType<typeof setTimeout> | undefined
  private renewTimer: ReturnType<typeof setTimeout> | undefined
  /** epoch ms when the socket's identity lease ends, as the last hello, renewal or frame said */
  private leaseEnd = 0
  /** the lease end a refresh was last made for: at most one refresh per end that does not move */
  private refreshedFor = 0
  private stopped = false

  constructor(private readonly h: RealtimeHandlers) {
    addEventListener('online', () => this.reconnectSoon(0))
    addEventListener('offline', () => this.ws?.close())
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN
  }

  start(): void {
    this.connect()
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
    clearTimeout(this.renewTimer)
    this.ws?.close(1000)
  }

  send(frame: ClientFrame): boolean {
    if (!this.open) return false
    this.ws!.send(JSON.stringify(frame))
    return true
  }

  private connect(): void {
    if (this.stopped) return
    clearTimeout(this.timer)
    this.h.onState('connecting')
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`)
    this.ws = ws
    let opened = false
    ws.onopen = () => (opened = true)
    ws.onmessage = (ev) => {
      let frame: ServerFrame
      try {
        frame = JSON.parse(String(ev.data)) as ServerFrame
      } catch {
        return
      }
      if (frame.type === 'hello') {
        this.attempt = 0
        this.h.onState('online')
        this.scheduleRenew(frame.expiresAt)
        if (this.connectedOnce) this.h.onReconnected()
        this.connectedOnce = true
      } else if (frame.type === 'renewed') this.scheduleRenew(frame.expiresAt)
      this.h.onFrame(frame)
    }
    ws.onclose = (ev) => {
      if (this.ws !== ws) return
      clearTimeout(this.renewTimer)
      this.h.onState('offline')
      if (this.stopped) return
      void this.afterClose(ev.code, opened)
    }
  }

  private async afterClose(code: number, opened: boolean): Promise<void> {
    if (code === CLOSE.sessionRevoked) return goToLogin()
    if (code === CLOSE.identityExpired || !opened) {
      // The handshake was refused (a browser only sees 1006) or the lease ran out: is the session
      // still there? A refresh answers it; no session means /login.
      const alive = await this.sessionAlive()
      if (!alive) return goToLogin()
    }
    if (code === CLOSE.reconnect && opened) return this.reconnectSoon(Math.round(Math.random() * 500))
    this.reconnectSoon(backoffDelay(this.attempt++))
  }

  private async sessionAlive(): Promise<boolean> {
    if (typeof navigator !== 'undefined' && navigator.onLine === false) return true // nothing to ask while offline
    try {
      const r = await fetch('/auth/me', { credentials: 'same-origin', headers: { accept: 'application/json' } })
      if (r.ok) return true
      if (r.status !== 401) return true // edge or auth trouble: keep retrying with backoff
      return await refreshSession()
    } catch {
      return true // network loss: retry later
    }
  }

  private reconnectSoon(delay: number): void {
    if (this.stopped) return
    clearTimeout(this.timer)
    if (this.open) return
    // Offline: no attempt can succeed (each would only log a failed handshake); 'online' resumes.
    if (typeof navigator !== 'undefined' && navigator.onLine === false) return
    this.timer = setTimeout(() => this.connect(), delay)
  }

  private scheduleRenew(expiresAt: string): void {
    clearTimeout(this.renewTimer)
    this.leaseEnd = Date.parse(expiresAt)
    const left = this.leaseEnd - Date.now()
    // At a random point of the last quarter before the deadline: sockets that reconnected together
    // (a gateway restart) would otherwise renew together for as long as they stay open.
    const inMs = Math.max(1000, Math.min(left - 15_000, left * 0.75) * (0.75 + Math.random() * 0.25))
    this.renewTimer = setTimeout(() => void this.renew(), inMs)
  }

  /**
   * Extends the lease before it ends with the contract's plain `GET /ws`; the socket stays as it
   * is. The gateway caps a lease at the access token's expiry, so a renewal that no longer moves the
   * lease means the token ends there: the session is refreshed now (at least ~14 s before, see
   * scheduleRenew) and the lease renewed with the new token, instead of the socket closing with 4002
   * and reconnecting (an offline/online flicker to every peer, once per token lifetime). The cookies
   * are httpOnly, so this is the one place the tab learns when its token expires. Should the renewal
   * fail for another reason than a lost session, the lease runs out, the socket closes with 4002 and
   * the reconnect (with HTTP catch-up) gives it a new one.
   */
  private async renew(): Promise<void> {
    const before = this.leaseEnd // a `renewed` frame may move it while this request is out
    try {
      let end = await this.renewLease()
      // Once per end: near the session's absolute end a refresh cannot move it either.
      if (end !== undefined && Date.parse(end) <= before && Date.parse(end) !== this.refreshedFor) {
        this.refreshedFor = Date.parse(end)
        // refreshSession is single-flight, shared with the API calls that met a 401.
        if (await refreshSession()) end = (await this.renewLease()) ?? end
      }
      if (end !== undefined && this.open) this.scheduleRenew(end) // else the next hello schedules
    } catch {
      // network trouble: the close that follows reconnects
    }
  }

  /** One `GET /ws` (refreshing once on a 401): the new lease end, or undefined when refused. */
  private async renewLease(): Promise<string | undefined> {
    const get = () => fetch('/ws', { credentials: 'same-origin', headers: { accept: 'application/json' } })
    let r = await get()
    if (r.status === 401 && (await refreshSession())) r = await get()
    if (r.status === 401) return goToLogin()
    return r.ok ? ((await r.json()) as { expiresAt: string }).expiresAt : undefined
  }
}

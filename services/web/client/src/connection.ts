/** The tab's one realtime connection, with the status line it drives. */
import { Realtime } from './realtime.js'
import { loadConversations } from './conversation-list.js'
import { onFrame } from './frames.js'
import { loadLatest } from './message-list.js'
import { flushOutbox } from './outbox.js'
import { els, showError } from './ui.js'

/** Told when the socket is back after a gap: state pushed only by events (presence) is asked for again. */
export const reconnects = new EventTarget()

export const realtime = new Realtime({
  onFrame,
  onReconnected: () => {
    // Catch up on what the socket missed; ids make the merge duplicate-free.
    void loadConversations().catch(showError)
    void loadLatest().catch(showError)
    reconnects.dispatchEvent(new Event('reconnected'))
  },
  onState: (s) => {
    // Connected (first hello included, so after a reload too): the outbox goes out.
    if (s === 'online') flushOutbox()
    els.conn.textContent = s === 'online' ? 'online' : s === 'connecting' ? 'connecting…' : 'offline — reconnecting'
    els.conn.dataset.state = s
  }
})

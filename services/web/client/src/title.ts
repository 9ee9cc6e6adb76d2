/** The tab's title says how many messages are unread, so a background tab shows it too. */
import { UNREAD_CAP, conversationList, subscribe, unreadOf } from './store.js'

const base = document.title

export function wireTitle(): void {
  subscribe('conversations', () => {
    let n = 0
    for (const c of conversationList()) n += unreadOf(c.id)
    document.title = n > 0 ? `(${n > UNREAD_CAP ? `${UNREAD_CAP}+` : n}) ${base}` : base
  })
}

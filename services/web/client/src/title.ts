/** The tab's title says how many mentions of me and messages are unread, so a background tab shows it too. */
import { UNREAD_CAP, conversationList, mentionsOf, subscribe, unreadOf } from './store.js'

const base = document.title

export function wireTitle(): void {
  subscribe('conversations', () => {
    let n = 0
    let mentions = 0
    for (const c of conversationList()) {
      n += unreadOf(c.id)
      mentions += mentionsOf(c.id)
    }
    const unread = n > 0 ? `(${n > UNREAD_CAP ? `${UNREAD_CAP}+` : n}) ` : ''
    document.title = `${mentions > 0 ? `@${mentions} ` : ''}${unread}${base}`
  })
}

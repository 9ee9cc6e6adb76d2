/**
 * The chat app's entry: wires every feature to the page, then signs in the tab (who am I),
 * connects the realtime socket and loads my conversations. Each feature lives in its own module;
 * shared state is in store.ts, what realtime frames do in frames.ts.
 */
import './styles.css'
import './phone.css'
import type { User } from '@palisade/contracts'
import { api } from './api.js'
import { showLinkResult, wireAccount } from './account.js'
import { wireAdmin } from './admin.js'
import { wireReauth } from './reauth.js'
import { wireAgents } from './agents.js'
import { wireAgentToggle } from './agent-toggle.js'
import { wireComposer } from './composer.js'
import { wireDrafts } from './drafts.js'
import { realtime } from './connection.js'
import { openConversation, wireConversation } from './conversation.js'
import { loadConversations, wireConversationList } from './conversation-list.js'
import { wireConversationSettings } from './conversation-settings.js'
import { wireNotifications } from './notify.js'
import { wireInteractionNotifications } from './interaction-notify.js'
import { onPresenceChanged, wirePresence } from './presence.js'
import { wireFiles } from './files.js'
import { wirePasteUpload } from './paste-upload.js'
import { loadMarkdown } from './markdown.js'
import { renderMembersIfShown, wireMembers } from './members.js'
import { refreshAuthors, wireMessageList } from './message-list.js'
import { onNamesChanged } from './names.js'
import { restoreOutbox } from './outbox.js'
import { wireNav } from './nav.js'
import { loadMentionCounts, wireMentionCounts } from './mention-counts.js'
import { wireMentionCandidates } from './mention-picker.js'
import { refreshExtrasNames } from './message-extras.js'
import { wireThreadPanel } from './thread-panel.js'
import { wireReadMarkers } from './read-markers.js'
import { refreshSearchAuthors, wireSearch } from './search.js'
import { activeId, hasConversation, setMe } from './store.js'
import { wireTitle } from './title.js'
import { renderTyping } from './typing.js'
import { showError } from './ui.js'

wireReadMarkers()
wireConversationList()
wireConversation()
wireMessageList()
wireComposer()
wireThreadPanel()
wireMentionCandidates()
wireMentionCounts()
wireFiles()
wirePasteUpload()
wireAgents()
wireAgentToggle()
wireMembers()
wireSearch()
wireAccount()
wireReauth()
wireNav()
wireTitle()
wireConversationSettings()
wirePresence()
wireNotifications()
wireInteractionNotifications()
onPresenceChanged(renderMembersIfShown)
// Names arrive after what shows them: author labels, the typing line and the members panel follow.
onNamesChanged(() => {
  refreshAuthors()
  refreshSearchAuthors()
  renderTyping()
  renderMembersIfShown()
  refreshExtrasNames()
})

async function boot(): Promise<void> {
  const me = await api<User>('GET', '/auth/me')
  setMe(me)
  restoreOutbox()
  wireDrafts()
  wireAdmin(me)
  realtime.start()
  await loadConversations()
  void loadMentionCounts().catch(showError)
  // The agent bar's list is loaded when a conversation opens (its shared agents depend on it).
  // The Markdown renderer's chunk, while the connection is known to work: a message shown offline later still renders.
  void loadMarkdown().catch(() => {})
  await openFromLocation()
  await showLinkResult()
  // Back and forward between conversations (and a pasted #c= link) open what the location names.
  addEventListener('hashchange', () => void openFromLocation().catch(showError))
}

async function openFromLocation(): Promise<void> {
  const m = /^#c=([0-9a-f-]{36})$/.exec(location.hash)
  if (m && hasConversation(m[1]!) && m[1] !== activeId()) await openConversation(m[1]!)
}
void boot().catch(showError)

/** The members panel of the open conversation: list, remove or leave, add by email. */
import type { Member, MemberPage, UserProfile } from '@palisade/contracts'
import { $, announce, h } from './dom.js'
import { api, ApiError } from './api.js'
import { closeConversation } from './conversation.js'
import { rememberName, resolveNames } from './names.js'
import { loadPresence, presenceLabel } from './presence.js'
import { activeId, getConversation, getMe, isMe, subscribe } from './store.js'
import { person, showError } from './ui.js'

const panel = $('#members')
const error = $('#add-member-error')
/** members of the active conversation as last loaded */
let members: Member[] = []

export async function loadMembers(): Promise<void> {
  const id = activeId()
  if (!id) return
  const page = await api<MemberPage>('GET', `/api/chat/conversations/${id}/members?limit=100`)
  if (activeId() !== id) return
  members = page.items
  renderMembers()
  void loadPresence(id).catch(() => {})
}

/** A membership of the open conversation changed: the panel, if open, shows it. */
export function reloadMembersIfShown(conversationId: string): void {
  if (conversationId === activeId() && !panel.hidden) void loadMembers()
}

export function renderMembersIfShown(): void {
  if (!panel.hidden) renderMembers()
}

function renderMembers(): void {
  const id = activeId()
  if (!id) return
  const me = getMe()
  const iOwn = getConversation(id)?.ownerId === me?.id
  resolveNames(members.map((m) => m.userId).filter((u) => !isMe(u)))
  $('#member-list').replaceChildren(
    ...members.map((m: Member) =>
      h(
        'li',
        { title: m.userId },
        h('span', { class: 'member-name', textContent: isMe(m.userId) ? `${me!.displayName} (you)` : person(m.userId) }),
        h('span', { class: 'meta', textContent: ` ${m.role}` }),
        h('span', { class: 'presence', textContent: isMe(m.userId) ? '' : presenceLabel(m.userId), attrs: { 'data-user': m.userId } }),
        (iOwn && !isMe(m.userId)) || (!iOwn && isMe(m.userId))
          ? h('button', {
              type: 'button',
              textContent: isMe(m.userId) ? 'Leave' : 'Remove',
              attrs: { 'aria-label': isMe(m.userId) ? 'Leave the conversation' : `Remove ${person(m.userId)}` },
              onclick: () =>
                void api('DELETE', `/api/chat/conversations/${id}/members/${m.userId}`).then(
                  () => (isMe(m.userId) ? closeConversation() : loadMembers()),
                  showError
                )
            })
          : null
      )
    )
  )
}

/** Add a member by email: the directory turns the address into an id, chat adds that id. */
async function addMember(email: string): Promise<void> {
  const conversationId = activeId()
  error.textContent = ''
  let profile: UserProfile
  try {
    profile = await api<UserProfile>('POST', '/auth/users/lookup', { email })
  } catch (err) {
    error.textContent =
      err instanceof ApiError && err.status === 404
        ? `No user with the email ${email}.`
        : err instanceof ApiError && err.status === 429
          ? 'Too many lookups; try again in a minute.'
          : err instanceof ApiError && err.status === 400
            ? 'That is not a valid email address.'
            : 'The user could not be looked up.'
    return
  }
  rememberName(profile)
  try {
    await api('POST', `/api/chat/conversations/${conversationId}/members`, { userId: profile.id })
  } catch (err) {
    error.textContent = err instanceof ApiError ? err.message : 'The member could not be added.'
    return
  }
  ;($('#add-member-email') as HTMLInputElement).value = ''
  announce(`${profile.displayName} added`)
  await loadMembers()
}

export function wireMembers(): void {
  // Another conversation: the panel starts closed and empty.
  subscribe('active', () => {
    panel.hidden = true
    members = []
    error.textContent = ''
  })
  $('#toggle-members').addEventListener('click', () => {
    panel.hidden = !panel.hidden
    $('#toggle-members').setAttribute('aria-expanded', String(!panel.hidden))
    if (!panel.hidden) void loadMembers().catch(showError)
  })
  $('#add-member').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const input = $('#add-member-email') as HTMLInputElement
    const email = input.value.trim()
    if (!email) return
    // The browser's own check first: a malformed address need not spend a directory lookup.
    if (!input.checkValidity()) {
      error.textContent = 'That is not a valid email address.'
      return
    }
    void addMember(email).catch(showError)
  })
}

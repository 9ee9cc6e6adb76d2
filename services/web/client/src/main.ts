import './styles.css'
import type { Conversation, ConversationPage, FileMeta, Member, MemberPage, Message, MessagePage, ServerFrame, Session, User, UserProfile } from '@palisade/contracts'
import { $, announce, clear, h } from './dom.js'
import { api, request, goToLogin, ApiError } from './api.js'
import { Realtime } from './realtime.js'
import { nameOf, onNamesChanged, rememberName, resolveNames } from './names.js'

interface AgentInfo {
  id: string
  name: string
}

const state = {
  me: undefined as User | undefined,
  conversations: new Map<string, Conversation>(),
  /** unread counts from the server (conversation list, conversation.read frames), kept up to date by live events */
  unread: new Map<string, number>(),
  /** the last message each conversation was marked read up to from this tab (skips repeats) */
  markedRead: new Map<string, string>(),
  active: undefined as string | undefined,
  /** messages of the active conversation by id, plus pending own sends by clientMessageId */
  messages: new Map<string, Message>(),
  pending: new Map<string, { text: string; attachments: string[] }>(),
  olderCursor: null as string | null,
  loadingOlder: false,
  typing: new Map<string, ReturnType<typeof setTimeout>>(),
  lastTypingSent: 0,
  runs: new Map<string, { el: HTMLElement; text: string; agentId: string; seq: number }>(),
  agents: [] as AgentInfo[],
  /** members of the active conversation as last loaded (the members panel) */
  members: [] as Member[]
}

const els = {
  convList: $('#conv-list'),
  messages: $('#messages'),
  conversation: $('#conversation'),
  empty: $('#empty'),
  title: $('#conv-title'),
  composer: $('#composer') as HTMLFormElement,
  text: $('#composer-text') as HTMLTextAreaElement,
  typing: $('#typing'),
  conn: $('#conn'),
  progress: $('#upload-progress') as HTMLProgressElement
}

const newId = (): string => crypto.randomUUID()
const short = (id: string): string => id.slice(0, 8)
/** Someone else's display name from the user directory, a short id until it is known. */
const person = (id: string): string => nameOf(id) ?? `Member ${short(id)}`
const who = (m: Message): string => (m.author.kind === 'agent' ? 'Agent' : m.senderId === state.me?.id ? 'You' : person(m.senderId))
/** CHAT_LIMITS.unreadCountMax of the contracts: the server stops counting there (a value import would pull the schemas into the bundle). */
const UNREAD_CAP = 999
const time = (iso: string): string => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })

function showError(err: unknown): void {
  const msg = err instanceof ApiError ? err.message : 'Something went wrong'
  announce(msg)
  els.conn.textContent = msg
}

// ---------------------------------------------------------------------------------------------
// Conversations
// ---------------------------------------------------------------------------------------------

function renderConversations(): void {
  const list = [...state.conversations.values()].sort((a, b) => b.lastActivityAt.localeCompare(a.lastActivityAt))
  clear(els.convList)
  for (const c of list) {
    const unread = state.unread.get(c.id) ?? 0
    const count = unread >= UNREAD_CAP ? `${UNREAD_CAP}+` : String(unread)
    const btn = h(
      'button',
      { type: 'button', class: 'conv' + (c.id === state.active ? ' active' : ''), onclick: () => void openConversation(c.id) },
      h('span', { class: 'conv-title', textContent: c.title }),
      unread > 0 ? h('span', { class: 'badge', textContent: count, attrs: { 'aria-label': `${count} unread` } }) : null
    )
    if (c.id === state.active) btn.setAttribute('aria-current', 'true')
    btn.dataset.id = c.id
    els.convList.append(h('li', {}, btn))
  }
}

async function loadConversations(): Promise<void> {
  let cursor: string | null = null
  const seen = new Map<string, Conversation>()
  const unread = new Map<string, number>()
  do {
    const page: ConversationPage = await api('GET', `/api/chat/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    for (const { unreadCount, ...c } of page.items) {
      seen.set(c.id, c)
      if (unreadCount > 0) unread.set(c.id, unreadCount)
    }
    cursor = page.nextCursor
  } while (cursor && seen.size < 1000)
  state.conversations = seen
  // The open conversation is being read (it is marked read once its newest messages are loaded).
  if (state.active && pageVisible()) unread.delete(state.active)
  state.unread = unread
  renderConversations()
}

// ---------------------------------------------------------------------------------------------
// Read markers: the server keeps them; this tab marks the open conversation read while it is visible
// ---------------------------------------------------------------------------------------------

const pageVisible = (): boolean => document.visibilityState === 'visible'
let markTimer: ReturnType<typeof setTimeout> | undefined

/** Marks the open conversation read up to its newest message, soon (a burst of messages: one request). */
function scheduleMarkRead(): void {
  clearTimeout(markTimer)
  markTimer = setTimeout(markActiveRead, 250)
}

function markActiveRead(): void {
  const id = state.active
  if (!id || !pageVisible()) return
  let newest: Message | undefined
  for (const m of state.messages.values()) {
    if (m.conversationId !== id) continue
    if (!newest || m.createdAt > newest.createdAt || (m.createdAt === newest.createdAt && m.id > newest.id)) newest = m
  }
  if (state.unread.delete(id)) renderConversations()
  if (!newest || state.markedRead.get(id) === newest.id) return
  state.markedRead.set(id, newest.id)
  // Best effort: a message deleted meanwhile answers 404, and the next message marks again.
  void api('POST', `/api/chat/conversations/${id}/read`, { messageId: newest.id }).catch(() => {
    if (state.markedRead.get(id) === newest.id) state.markedRead.delete(id)
  })
}

document.addEventListener('visibilitychange', () => {
  if (pageVisible()) scheduleMarkRead()
})

async function openConversation(id: string): Promise<void> {
  state.active = id
  state.unread.delete(id)
  state.messages.clear()
  state.pending.clear()
  state.olderCursor = null
  history.replaceState(null, '', `/#c=${id}`)
  const c = state.conversations.get(id)
  els.title.textContent = c?.title ?? ''
  els.empty.hidden = true
  els.conversation.hidden = false
  $('#search-results').hidden = true
  $('#settings').hidden = true
  clear(els.messages)
  clear(els.typing)
  $('#members').hidden = true
  state.members = []
  $('#add-member-error').textContent = ''
  closeNav()
  renderConversations()
  await loadLatest()
  els.text.focus()
}

/** Newest page of the active conversation, merged into what is shown (initial load and catch-up). */
async function loadLatest(): Promise<void> {
  const id = state.active
  if (!id) return
  const page: MessagePage = await api('GET', `/api/chat/conversations/${id}/messages?limit=50`)
  if (state.active !== id) return
  const first = state.messages.size === 0
  for (const m of page.items) state.messages.set(m.id, m)
  if (first) state.olderCursor = page.nextCursor
  renderMessages(true)
  scheduleMarkRead()
}

async function loadOlder(): Promise<void> {
  const id = state.active
  if (!id || !state.olderCursor || state.loadingOlder) return
  state.loadingOlder = true
  try {
    const page: MessagePage = await api('GET', `/api/chat/conversations/${id}/messages?limit=50&before=${encodeURIComponent(state.olderCursor)}`)
    if (state.active !== id) return
    const before = els.messages.scrollHeight
    for (const m of page.items) state.messages.set(m.id, m)
    state.olderCursor = page.nextCursor
    renderMessages(false)
    els.messages.scrollTop += els.messages.scrollHeight - before
  } finally {
    state.loadingOlder = false
  }
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

function attachmentView(fileId: string): HTMLElement {
  const li = h('span', { class: 'attachment' }, h('span', { textContent: 'file…' }))
  void api<FileMeta>('GET', `/api/files/${fileId}`)
    .then((f) => {
      const url = `/api/files/${f.id}/content`
      const link = h('a', { href: `${url}?disposition=attachment`, textContent: f.name, attrs: { download: f.name } })
      if (f.type.startsWith('image/') && f.type !== 'image/svg+xml') li.replaceChildren(h('img', { src: `${url}?disposition=inline`, alt: f.name, loading: 'lazy' }), link)
      else li.replaceChildren(link, h('span', { class: 'meta', textContent: ` ${Math.ceil(f.size / 1024)} KiB` }))
    })
    .catch(() => li.replaceChildren(h('span', { textContent: 'file unavailable' })))
  return li
}

function messageView(m: Message): HTMLElement {
  const mine = m.senderId === state.me?.id && m.author.kind === 'user'
  const li = h(
    'li',
    { class: 'msg' + (mine ? ' mine' : '') + (m.author.kind === 'agent' ? ' agent' : '') },
    h('div', { class: 'meta' }, h('span', { class: 'who', textContent: who(m) }), h('time', { dateTime: m.createdAt, textContent: time(m.createdAt) }), m.editedAt ? h('span', { textContent: ' (edited)' }) : null),
    // textContent only: HTML in a message stays text
    h('p', { class: 'text', textContent: m.text }),
    m.attachments.length ? h('div', { class: 'attachments' }, ...m.attachments.map(attachmentView)) : null
  )
  li.dataset.id = m.id
  if (mine) {
    li.append(
      h('div', { class: 'actions' }, h('button', { type: 'button', textContent: 'Edit', attrs: { 'aria-label': 'Edit message' }, onclick: () => editMessage(m) }), h('button', { type: 'button', textContent: 'Delete', attrs: { 'aria-label': 'Delete message' }, onclick: () => void deleteMessage(m) }))
    )
  }
  return li
}

function renderMessages(scrollToEnd: boolean): void {
  const atBottom = els.messages.scrollHeight - els.messages.scrollTop - els.messages.clientHeight < 40
  const sorted = [...state.messages.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
  resolveNames(sorted.filter((m) => m.author.kind === 'user' && m.senderId !== state.me?.id).map((m) => m.senderId))
  const confirmed = new Set(sorted.filter((m) => m.senderId === state.me?.id).map((m) => m.clientMessageId))
  for (const cid of [...state.pending.keys()]) if (confirmed.has(cid)) state.pending.delete(cid)
  const nodes: HTMLElement[] = sorted.map(messageView)
  if (state.olderCursor) nodes.unshift(h('li', { class: 'older' }, h('button', { type: 'button', textContent: 'Load older messages', onclick: () => void loadOlder() })))
  for (const [cid, p] of state.pending) {
    const li = h('li', { class: 'msg mine pending' }, h('div', { class: 'meta', textContent: 'sending…' }), h('p', { class: 'text', textContent: p.text }))
    li.dataset.clientId = cid
    nodes.push(li)
  }
  for (const r of state.runs.values()) nodes.push(r.el)
  els.messages.replaceChildren(...nodes)
  if (scrollToEnd || atBottom) els.messages.scrollTop = els.messages.scrollHeight
}

function upsertMessage(m: Message): void {
  if (m.conversationId !== state.active) return
  state.messages.set(m.id, m)
  renderMessages(false)
}

async function sendMessage(text: string, attachments: string[]): Promise<void> {
  const conversationId = state.active
  if (!conversationId) return
  const clientMessageId = newId()
  state.pending.set(clientMessageId, { text, attachments })
  renderMessages(true)
  const frame = { type: 'message.send' as const, id: clientMessageId, conversationId, text, clientMessageId, ...(attachments.length ? { attachments } : {}) }
  if (realtime.send(frame)) {
    // If no ack arrives (socket dropped), the same clientMessageId over HTTP cannot duplicate it.
    setTimeout(() => {
      if (state.pending.has(clientMessageId)) void sendOverHttp(conversationId, text, clientMessageId, attachments)
    }, 5000)
  } else await sendOverHttp(conversationId, text, clientMessageId, attachments)
}

async function sendOverHttp(conversationId: string, text: string, clientMessageId: string, attachments: string[]): Promise<void> {
  try {
    const m = await api<Message>('POST', `/api/chat/conversations/${conversationId}/messages`, { text, clientMessageId, ...(attachments.length ? { attachments } : {}) })
    state.pending.delete(clientMessageId)
    upsertMessage(m)
  } catch (err) {
    state.pending.delete(clientMessageId)
    renderMessages(false)
    showError(err)
  }
}

function editMessage(m: Message): void {
  const li = els.messages.querySelector<HTMLElement>(`li[data-id="${m.id}"]`)
  if (!li) return
  const input = h('textarea', { value: m.text, maxLength: 8000, attrs: { 'aria-label': 'Edit message text' } })
  const form = h(
    'form',
    { class: 'edit' },
    input,
    h('button', { type: 'submit', textContent: 'Save' }),
    h('button', { type: 'button', textContent: 'Cancel', onclick: () => renderMessages(false) })
  )
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const text = input.value.trim()
    if (!text) return
    void api<Message>('PATCH', `/api/chat/conversations/${m.conversationId}/messages/${m.id}`, { text }).then(upsertMessage, showError)
  })
  li.querySelector('.text')?.replaceWith(form)
  input.focus()
}

async function deleteMessage(m: Message): Promise<void> {
  if (!confirm('Delete this message?')) return
  try {
    await api('DELETE', `/api/chat/conversations/${m.conversationId}/messages/${m.id}`)
    state.messages.delete(m.id)
    renderMessages(false)
  } catch (err) {
    showError(err)
  }
}

// ---------------------------------------------------------------------------------------------
// Realtime events
// ---------------------------------------------------------------------------------------------

function onFrame(f: ServerFrame): void {
  switch (f.type) {
    case 'ack':
      state.pending.delete(f.message.clientMessageId)
      upsertMessage(f.message)
      return
    case 'error':
      if (f.ref && state.pending.has(f.ref)) {
        state.pending.delete(f.ref)
        renderMessages(false)
      }
      announce(f.detail ?? f.code)
      return
    case 'message.created': {
      const c = state.conversations.get(f.conversationId)
      if (c) c.lastActivityAt = f.message.createdAt
      const fromMe = f.message.senderId === state.me?.id && f.message.author.kind === 'user'
      if (f.conversationId === state.active) {
        state.pending.delete(fromMe ? f.message.clientMessageId : '')
        upsertMessage(f.message)
        stopTyping(f.message.senderId)
      }
      if (fromMe) {
        // Sending marks read on the server (here or in another session of mine): nothing before it is unread.
        state.unread.delete(f.conversationId)
      } else if (f.conversationId === state.active && pageVisible()) {
        scheduleMarkRead()
      } else {
        state.unread.set(f.conversationId, Math.min(UNREAD_CAP, (state.unread.get(f.conversationId) ?? 0) + 1))
      }
      renderConversations()
      return
    }
    case 'conversation.read':
      // Read in another session of mine (or this one): what the server says is left.
      if (f.conversationId === state.active && pageVisible()) return
      if (f.unreadCount > 0) state.unread.set(f.conversationId, f.unreadCount)
      else state.unread.delete(f.conversationId)
      renderConversations()
      return
    case 'message.updated':
      upsertMessage(f.message)
      return
    case 'message.deleted':
      if (state.messages.delete(f.messageId)) renderMessages(false)
      return
    case 'conversation.created':
    case 'conversation.updated':
      state.conversations.set(f.conversation.id, f.conversation)
      if (f.conversation.id === state.active) els.title.textContent = f.conversation.title
      renderConversations()
      return
    case 'member.added':
      if (f.userId === state.me?.id) state.conversations.set(f.conversation.id, f.conversation)
      if (f.conversationId === state.active && !$('#members').hidden) void loadMembers()
      renderConversations()
      return
    case 'member.removed':
    case 'conversation.deleted':
      if (f.type === 'conversation.deleted' || f.userId === state.me?.id) {
        state.conversations.delete(f.conversationId)
        if (state.active === f.conversationId) closeConversation()
        renderConversations()
      } else if (f.conversationId === state.active && !$('#members').hidden) void loadMembers()
      return
    case 'typing':
      if (f.conversationId === state.active && f.userId !== state.me?.id) showTyping(f.userId)
      return
    case 'agent.run.delta':
    case 'agent.run.completed':
    case 'agent.run.failed':
    case 'agent.run.cancelled':
      onRunEvent(f)
      return
  }
}

function closeConversation(): void {
  state.active = undefined
  els.conversation.hidden = true
  els.empty.hidden = false
  history.replaceState(null, '', '/')
}

function showTyping(userId: string): void {
  clearTimeout(state.typing.get(userId))
  state.typing.set(
    userId,
    setTimeout(() => stopTyping(userId), 4000)
  )
  renderTyping()
}
function stopTyping(userId: string): void {
  clearTimeout(state.typing.get(userId))
  if (state.typing.delete(userId)) renderTyping()
}
function renderTyping(): void {
  resolveNames(state.typing.keys())
  const names = [...state.typing.keys()].map(person)
  els.typing.textContent = names.length ? `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…` : ''
}

const realtime = new Realtime({
  onFrame,
  onReconnected: () => {
    // Catch up on what the socket missed; ids make the merge duplicate-free.
    void loadConversations().catch(showError)
    void loadLatest().catch(showError)
  },
  onState: (s) => {
    els.conn.textContent = s === 'online' ? 'online' : s === 'connecting' ? 'connecting…' : 'offline — reconnecting'
    els.conn.dataset.state = s
  }
})

// ---------------------------------------------------------------------------------------------
// Composer, files, agents
// ---------------------------------------------------------------------------------------------

els.composer.addEventListener('submit', (ev) => {
  ev.preventDefault()
  const text = els.text.value.trim()
  if (!text) return
  els.text.value = ''
  void sendMessage(text, [])
})
els.text.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault()
    els.composer.requestSubmit()
  }
})
els.text.addEventListener('input', () => {
  if (!state.active || Date.now() - state.lastTypingSent < 2000) return
  state.lastTypingSent = Date.now()
  realtime.send({ type: 'typing', conversationId: state.active })
})
els.messages.addEventListener('scroll', () => {
  if (els.messages.scrollTop < 40) void loadOlder()
})

function upload(file: File): void {
  const conversationId = state.active
  if (!conversationId) return
  const form = new FormData()
  form.append('conversationId', conversationId)
  form.append('file', file, file.name)
  // XMLHttpRequest for its upload progress events (fetch has none); cookies are same-origin.
  const xhr = new XMLHttpRequest()
  xhr.open('POST', '/api/files')
  xhr.setRequestHeader('accept', 'application/json')
  els.progress.hidden = false
  els.progress.value = 0
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) els.progress.value = Math.round((e.loaded / e.total) * 100)
  }
  xhr.onload = () => {
    els.progress.hidden = true
    if (xhr.status === 401) return goToLogin()
    if (xhr.status !== 201) return announce(`Upload failed (${xhr.status})`)
    const meta = JSON.parse(xhr.responseText) as FileMeta
    void sendMessage(meta.name, [meta.id])
  }
  xhr.onerror = () => {
    els.progress.hidden = true
    announce('Upload failed')
  }
  xhr.send(form)
}
const fileInput = $('#file-input') as HTMLInputElement
fileInput.addEventListener('change', () => {
  const f = fileInput.files?.[0]
  if (f) upload(f)
  fileInput.value = ''
})
els.conversation.addEventListener('dragover', (ev) => {
  ev.preventDefault()
  els.conversation.classList.add('dropping')
})
els.conversation.addEventListener('dragleave', () => els.conversation.classList.remove('dropping'))
els.conversation.addEventListener('drop', (ev) => {
  ev.preventDefault()
  els.conversation.classList.remove('dropping')
  const f = ev.dataTransfer?.files[0]
  if (f) upload(f)
})

const agentSelect = $('#agent-select') as HTMLSelectElement
const agentCancel = $('#agent-cancel') as HTMLButtonElement
let currentRun: { agentId: string; runId: string } | undefined

async function loadAgents(): Promise<void> {
  try {
    const list = await api<{ agents: AgentInfo[] }>('GET', '/api/agents?limit=50')
    state.agents = list.agents
  } catch {
    state.agents = []
  }
  agentSelect.replaceChildren(h('option', { value: '', textContent: 'New assistant…' }), ...state.agents.map((a) => h('option', { value: a.id, textContent: a.name })))
  if (state.agents[0]) agentSelect.value = state.agents[0].id
}

async function runAgent(): Promise<void> {
  const conversationId = state.active
  const input = els.text.value.trim()
  if (!conversationId || !input) return announce('Write what the agent should do in the message box')
  let agentId = agentSelect.value
  if (!agentId) {
    const a = await api<AgentInfo>('POST', '/api/agents', { name: 'Assistant', instructions: 'You are a helpful assistant in a team chat.' })
    await loadAgents()
    agentId = a.id
    agentSelect.value = a.id
  }
  els.text.value = ''
  const run = await api<{ id: string }>('POST', `/api/agents/${agentId}/runs`, { conversationId, input })
  currentRun = { agentId, runId: run.id }
  agentCancel.hidden = false
  runView(run.id, agentId, conversationId)
}

function runView(runId: string, agentId: string, conversationId: string): { el: HTMLElement; text: string; agentId: string; seq: number } {
  let r = state.runs.get(runId)
  if (!r) {
    const el = h('li', { class: 'msg agent streaming' }, h('div', { class: 'meta', textContent: 'Agent (running…)' }), h('p', { class: 'text' }))
    el.dataset.run = runId
    r = { el, text: '', agentId, seq: -1 }
    if (conversationId === state.active) state.runs.set(runId, r)
    renderMessages(false)
  }
  return r
}

function onRunEvent(f: Extract<ServerFrame, { type: `agent.run.${string}` }>): void {
  if (f.conversationId !== state.active) return
  const r = runView(f.runId, f.agentId, f.conversationId)
  const meta = r.el.querySelector('.meta')!
  if (f.type === 'agent.run.delta') {
    if (f.seq <= r.seq) return // seen on both sockets while the lease rotated
    r.seq = f.seq
    r.text += f.text
    r.el.querySelector('.text')!.textContent = r.text
    els.messages.scrollTop = els.messages.scrollHeight
    return
  }
  meta.textContent = f.type === 'agent.run.completed' ? 'Agent (done)' : f.type === 'agent.run.cancelled' ? 'Agent (cancelled)' : `Agent (failed: ${f.detail})`
  r.el.classList.remove('streaming')
  if (currentRun?.runId === f.runId) {
    currentRun = undefined
    agentCancel.hidden = true
  }
  // A completed run's message arrives as message.created; the stream view then goes away.
  setTimeout(() => {
    state.runs.delete(f.runId)
    renderMessages(false)
  }, f.type === 'agent.run.completed' ? 300 : 10_000)
}

$('#agent-run').addEventListener('click', () => void runAgent().catch(showError))
agentCancel.addEventListener('click', () => {
  if (!currentRun) return
  void api('POST', `/api/agents/${currentRun.agentId}/runs/${currentRun.runId}/cancel`, {}).catch(showError)
})

// ---------------------------------------------------------------------------------------------
// Conversation management, members, search, account
// ---------------------------------------------------------------------------------------------

$('#new-conv').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const input = $('#new-conv-title') as HTMLInputElement
  const title = input.value.trim()
  if (!title) return
  void api<Conversation>('POST', '/api/chat/conversations', { title }).then((c) => {
    input.value = ''
    state.conversations.set(c.id, c)
    return openConversation(c.id)
  }, showError)
})

async function loadMembers(): Promise<void> {
  const id = state.active
  if (!id) return
  const page = await api<MemberPage>('GET', `/api/chat/conversations/${id}/members?limit=100`)
  if (state.active !== id) return
  state.members = page.items
  renderMembers()
}

function renderMembers(): void {
  const id = state.active
  if (!id) return
  const conv = state.conversations.get(id)
  const iOwn = conv?.ownerId === state.me?.id
  resolveNames(state.members.map((m) => m.userId).filter((u) => u !== state.me?.id))
  $('#member-list').replaceChildren(
    ...state.members.map((m: Member) =>
      h(
        'li',
        { title: m.userId },
        h('span', { class: 'member-name', textContent: m.userId === state.me?.id ? `${state.me.displayName} (you)` : person(m.userId) }),
        h('span', { class: 'meta', textContent: ` ${m.role}` }),
        (iOwn && m.userId !== state.me?.id) || (!iOwn && m.userId === state.me?.id)
          ? h('button', {
              type: 'button',
              textContent: m.userId === state.me?.id ? 'Leave' : 'Remove',
              attrs: { 'aria-label': m.userId === state.me?.id ? 'Leave the conversation' : `Remove ${person(m.userId)}` },
              onclick: () => void api('DELETE', `/api/chat/conversations/${id}/members/${m.userId}`).then(() => (m.userId === state.me?.id ? closeConversation() : loadMembers()), showError)
            })
          : null
      )
    )
  )
}
$('#toggle-members').addEventListener('click', () => {
  const panel = $('#members')
  panel.hidden = !panel.hidden
  $('#toggle-members').setAttribute('aria-expanded', String(!panel.hidden))
  if (!panel.hidden) void loadMembers().catch(showError)
})
/** Add a member by email: the directory turns the address into an id, chat adds that id. */
async function addMember(email: string): Promise<void> {
  const conversationId = state.active
  const error = $('#add-member-error')
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
$('#add-member').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const input = $('#add-member-email') as HTMLInputElement
  const email = input.value.trim()
  if (!email) return
  // The browser's own check first: a malformed address need not spend a directory lookup.
  if (!input.checkValidity()) return void ($('#add-member-error').textContent = 'That is not a valid email address.')
  void addMember(email).catch(showError)
})

// Names arrive after what shows them: update the author labels in place (an open edit form
// survives), the typing line and the members panel.
onNamesChanged(() => {
  for (const li of els.messages.querySelectorAll<HTMLElement>('li[data-id]')) {
    const m = state.messages.get(li.dataset.id!)
    const label = li.querySelector('.who')
    if (m && label) label.textContent = who(m)
  }
  renderTyping()
  if (!$('#members').hidden) renderMembers()
})

$('#search-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const q = ($('#search-q') as HTMLInputElement).value.trim()
  if (!q) return
  void api<MessagePage>('GET', `/api/chat/search?q=${encodeURIComponent(q)}&limit=20`).then((page) => {
    $('#search-list').replaceChildren(
      ...(page.items.length
        ? page.items.map((m) =>
            h('li', {}, h('button', { type: 'button', class: 'link', textContent: state.conversations.get(m.conversationId)?.title ?? 'conversation', onclick: () => void openConversation(m.conversationId) }), h('p', { textContent: m.text }))
          )
        : [h('li', { textContent: 'No messages found.' })])
    )
    els.conversation.hidden = true
    els.empty.hidden = true
    $('#settings').hidden = true
    $('#search-results').hidden = false
  }, showError)
})
$('#close-search').addEventListener('click', () => {
  $('#search-results').hidden = true
  if (state.active) els.conversation.hidden = false
  else els.empty.hidden = false
})

async function openSettings(): Promise<void> {
  $('#me-name').textContent = state.me?.displayName ?? ''
  $('#me-email').textContent = state.me?.email ?? ''
  $('#me-id').textContent = state.me?.id ?? ''
  const { sessions } = await api<{ sessions: Session[] }>('GET', '/auth/sessions')
  $('#session-list').replaceChildren(
    ...sessions.map((s) =>
      h(
        'li',
        {},
        h('span', { textContent: `${s.current ? 'This browser' : s.userAgent.slice(0, 80) || 'unknown client'} · ${s.ip} · last used ${new Date(s.lastUsedAt).toLocaleString()}` }),
        s.current
          ? null
          : h('button', {
              type: 'button',
              textContent: 'Revoke',
              attrs: { 'data-session': s.id },
              onclick: () => void api('DELETE', `/auth/sessions/${s.id}`).then(() => openSettings(), showError)
            })
      )
    )
  )
  els.conversation.hidden = true
  els.empty.hidden = true
  $('#search-results').hidden = true
  $('#settings').hidden = false
  $('#settings-title').focus()
}
$('#settings-title').tabIndex = -1
$('#open-settings').addEventListener('click', () => void openSettings().catch(showError))
$('#close-settings').addEventListener('click', () => {
  $('#settings').hidden = true
  if (state.active) els.conversation.hidden = false
  else els.empty.hidden = false
})
$('#password-form').addEventListener('submit', (ev) => {
  ev.preventDefault()
  const currentPassword = ($('#pw-current') as HTMLInputElement).value
  const newPassword = ($('#pw-new') as HTMLInputElement).value
  const result = $('#pw-result')
  void request('POST', '/auth/password', { currentPassword, newPassword }).then(
    () => {
      ;($('#password-form') as HTMLFormElement).reset()
      result.textContent = 'Password changed. Your other sessions were signed out.'
    },
    (err: unknown) => (result.textContent = err instanceof ApiError ? err.message : 'The password could not be changed')
  )
})

$('#sign-out').addEventListener('click', () => {
  realtime.stop()
  void fetch('/auth/logout', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{}' }).finally(() => location.assign('/login'))
})

const navToggle = $('#nav-toggle')
function closeNav(): void {
  document.body.classList.remove('nav-open')
  navToggle.setAttribute('aria-expanded', 'false')
}
navToggle.addEventListener('click', () => {
  const open = document.body.classList.toggle('nav-open')
  navToggle.setAttribute('aria-expanded', String(open))
})

// ---------------------------------------------------------------------------------------------

async function boot(): Promise<void> {
  state.me = await api<User>('GET', '/auth/me')
  realtime.start()
  await loadConversations()
  void loadAgents()
  const m = /^#c=([0-9a-f-]{36})$/.exec(location.hash)
  if (m && state.conversations.has(m[1]!)) await openConversation(m[1]!)
}
void boot().catch(showError)

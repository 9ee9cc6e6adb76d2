/**
 * Agents: pick or create one (or one shared with the conversation), run it on the message box's
 * text, stream its answer, cancel it; after a reload, the conversation's runs label its replies.
 */
import type { ServerFrame } from '@palisade/contracts'
import { $, announce, h } from './dom.js'
import { api } from './api.js'
import { mentionedAgent, onRegenerate, rememberRun, replyActions, runLabel, setAgentNames, type RunInfo } from './agent-replies.js'
import { settleMarkdown, streamMarkdown } from './markdown.js'
import { scrollToBottom } from './message-list.js'
import { activeId, addRun, batch, getRun, getConversation, isMe, messageList, removeRun, touchMessages, type RunView } from './store.js'
import { els, showError } from './ui.js'

interface AgentInfo {
  id: string
  name: string
  /** shared with the open conversation by another member: runnable, not editable */
  ownerId?: string
}
/** GET /api/agents/conversations/:id/runs (contracts ConversationRunSchema) */
interface ConversationRun {
  id: string
  agentId: string
  agentName: string
  userId: string
  status: 'running' | 'completed' | 'failed' | 'cancelled'
  messageId: string | null
  input?: string
  output?: string
  createdAt: string
}

const agentSelect = $('#agent-select') as HTMLSelectElement
const agentCancel = $('#agent-cancel') as HTMLButtonElement
let currentRun: { agentId: string; runId: string } | undefined
let mine = new Set<string>()

/** The caller's agents, and those other members shared with the open conversation. */
export async function loadAgents(select?: string): Promise<void> {
  const conversationId = activeId()
  const [own, shared] = await Promise.all([
    api<{ agents: AgentInfo[] }>('GET', '/api/agents?limit=50').then(
      (r) => r.agents,
      () => []
    ),
    conversationId
      ? api<{ agents: Required<AgentInfo>[] }>('GET', `/api/agents/shared?conversationId=${conversationId}`).then(
          (r) => r.agents.filter((a) => !isMe(a.ownerId)),
          () => []
        )
      : Promise.resolve([])
  ])
  const agents: AgentInfo[] = [...own, ...shared]
  mine = new Set(own.map((a) => a.id))
  setAgentNames(agents)
  agentSelect.replaceChildren(
    h('option', { value: '', textContent: 'New assistant…' }),
    ...agents.map((a) => h('option', { value: a.id, textContent: mine.has(a.id) ? a.name : `${a.name} (shared)` }))
  )
  const keep = select ?? agentSelect.value
  agentSelect.value = agents.some((a) => a.id === keep) ? keep : (agents[0]?.id ?? '')
  editButton.hidden = !mine.has(agentSelect.value)
}

/**
 * The open conversation's recent runs: replies keep their agent's name and, for the caller's own
 * runs, "Regenerate" after a reload; the caller's cancelled runs newer than the last message come
 * back with their partial text, marked.
 */
export async function loadConversationRuns(conversationId: string): Promise<void> {
  let list: ConversationRun[]
  try {
    list = (await api<{ runs: ConversationRun[] }>('GET', `/api/agents/conversations/${conversationId}/runs?limit=50`)).runs
  } catch {
    return // labels fall back to "Agent"; nothing else depends on it
  }
  if (activeId() !== conversationId) return
  const newest = messageList().at(-1)?.createdAt ?? ''
  batch(() => {
    for (const r of list) {
      rememberRun(r.id, { agentId: r.agentId, conversationId, agentName: r.agentName, ...(r.input !== undefined ? { input: r.input } : {}) })
      if (r.status === 'cancelled' && r.output && r.createdAt > newest && !getRun(r.id)) {
        const view = runView(r.id, r.agentId, conversationId)
        view.text = r.output
        view.el.querySelector('.text')!.textContent = r.output
        endView(r.id, view, 'agent.run.cancelled')
      }
    }
    touchMessages()
  })
}

async function startRun(agentId: string, conversationId: string, input: string): Promise<void> {
  const run = await api<{ id: string }>('POST', `/api/agents/${agentId}/runs`, { conversationId, input })
  rememberRun(run.id, { agentId, conversationId, input })
  currentRun = { agentId, runId: run.id }
  agentCancel.hidden = false
  runView(run.id, agentId, conversationId)
}

async function runAgent(): Promise<void> {
  const conversationId = activeId()
  const input = els.text.value.trim()
  if (!conversationId || !input) return announce('Write what the agent should do in the message box')
  let agentId = agentSelect.value
  if (!agentId) {
    const a = await api<AgentInfo>('POST', '/api/agents', { name: 'Assistant', instructions: 'You are a helpful assistant in a team chat.' })
    await loadAgents(a.id)
    agentId = a.id
  }
  els.text.value = ''
  await startRun(agentId, conversationId, input)
}

/**
 * A message that starts with `@AgentName` is sent as usual (the prompt is a normal message of the
 * user) and also runs that agent on the rest of it. Only the caller's own agents answer to a name.
 */
export function runMentioned(conversationId: string, text: string): void {
  const m = mentionedAgent(text)
  if (!m?.input) return
  void startRun(m.agentId, conversationId, m.input).catch(showError)
}

/** Regenerate: the same agent, the same prompt, in the same conversation, as a new run. */
function regenerate(info: RunInfo & { input: string }): void {
  if (info.conversationId !== activeId()) return
  void startRun(info.agentId, info.conversationId, info.input).catch(showError)
}

function runView(runId: string, agentId: string, conversationId: string): RunView {
  let r = getRun(runId)
  if (!r) {
    const el = h(
      'li',
      { class: 'msg agent streaming', tabIndex: -1 },
      h('div', { class: 'meta' }, h('span', { class: 'who', textContent: runLabel(runId) }), h('span', { class: 'run-state', textContent: ' (running…)' })),
      h('div', { class: 'text md' })
    )
    const view: RunView = { el, text: '', agentId, seq: -1 }
    view.el.dataset.run = runId
    r = view
    if (conversationId === activeId()) addRun(runId, r)
  }
  return r
}

const ENDED: Record<string, string> = { 'agent.run.completed': ' (done)', 'agent.run.cancelled': ' (cancelled)' }

export function onRunEvent(f: Extract<ServerFrame, { type: `agent.run.${string}` }>): void {
  if (f.conversationId !== activeId()) return
  rememberRun(f.runId, { agentId: f.agentId, conversationId: f.conversationId, agentName: f.agentName })
  const r = runView(f.runId, f.agentId, f.conversationId)
  if (f.type === 'agent.run.delta') {
    if (f.seq <= r.seq) return // seen on both sockets while the lease rotated
    r.seq = f.seq
    r.text += f.text
    streamMarkdown(r.el.querySelector('.text')!, r.text, scrollToBottom)
    return
  }
  if (currentRun?.runId === f.runId) {
    currentRun = undefined
    agentCancel.hidden = true
  }
  endView(f.runId, r, f.type, f.type === 'agent.run.failed' ? f.detail : '')
}

function endView(runId: string, r: RunView, type: string, detail = ''): void {
  settleMarkdown(r.el.querySelector('.text')!)
  r.el.querySelector('.run-state')!.textContent = ENDED[type] ?? ` (failed: ${detail})`
  r.el.classList.remove('streaming')
  if (type === 'agent.run.completed') {
    // The completed run's message arrives as message.created; the stream view then goes away.
    setTimeout(() => removeRun(runId), 300)
    return
  }
  // A cancelled or failed run posts no message: its partial text stays, marked, with its actions.
  r.el.classList.add(type === 'agent.run.cancelled' ? 'cancelled' : 'failed')
  r.el.querySelector('.meta')!.append(replyActions(runId, () => r.text))
}

const editButton = h('button', { type: 'button', textContent: 'Edit agent', hidden: true })
const newButton = h('button', { type: 'button', textContent: 'New agent' })

/** The editor is its own chunk, fetched on first use: it is not part of the first load. */
async function openEditor(agentId: string | undefined, opener: HTMLElement): Promise<void> {
  const { editAgent } = await import('./agent-editor.js')
  const id = activeId()
  const conversation = id ? { id, title: getConversation(id)?.title ?? '' } : undefined
  editAgent(agentId, opener, conversation, (saved) => void loadAgents(saved.id).then(() => announce(`Saved agent ${saved.name}`)))
}

export function wireAgents(): void {
  $('#agent-run').addEventListener('click', () => void runAgent().catch(showError))
  agentCancel.addEventListener('click', () => {
    if (!currentRun) return
    void api('POST', `/api/agents/${currentRun.agentId}/runs/${currentRun.runId}/cancel`, {}).catch(showError)
  })
  onRegenerate(regenerate)
  agentSelect.after(editButton, newButton)
  agentSelect.addEventListener('change', () => (editButton.hidden = !mine.has(agentSelect.value)))
  editButton.addEventListener('click', () => void openEditor(agentSelect.value || undefined, editButton).catch(showError))
  newButton.addEventListener('click', () => void openEditor(undefined, newButton).catch(showError))
}

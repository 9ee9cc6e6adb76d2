/** Agents: pick or create one, run it on the message box's text, stream its answer, cancel it. */
import type { ServerFrame } from '@palisade/contracts'
import { $, announce, h } from './dom.js'
import { api } from './api.js'
import { scrollToBottom } from './message-list.js'
import { activeId, addRun, getRun, removeRun, type RunView } from './store.js'
import { els, showError } from './ui.js'

interface AgentInfo {
  id: string
  name: string
}

const agentSelect = $('#agent-select') as HTMLSelectElement
const agentCancel = $('#agent-cancel') as HTMLButtonElement
let currentRun: { agentId: string; runId: string } | undefined

export async function loadAgents(): Promise<void> {
  let agents: AgentInfo[]
  try {
    agents = (await api<{ agents: AgentInfo[] }>('GET', '/api/agents?limit=50')).agents
  } catch {
    agents = []
  }
  agentSelect.replaceChildren(
    h('option', { value: '', textContent: 'New assistant…' }),
    ...agents.map((a) => h('option', { value: a.id, textContent: a.name }))
  )
  if (agents[0]) agentSelect.value = agents[0].id
}

async function runAgent(): Promise<void> {
  const conversationId = activeId()
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

function runView(runId: string, agentId: string, conversationId: string): RunView {
  let r = getRun(runId)
  if (!r) {
    const el = h('li', { class: 'msg agent streaming' }, h('div', { class: 'meta', textContent: 'Agent (running…)' }), h('p', { class: 'text' }))
    el.dataset.run = runId
    r = { el, text: '', agentId, seq: -1 }
    if (conversationId === activeId()) addRun(runId, r)
  }
  return r
}

export function onRunEvent(f: Extract<ServerFrame, { type: `agent.run.${string}` }>): void {
  if (f.conversationId !== activeId()) return
  const r = runView(f.runId, f.agentId, f.conversationId)
  const meta = r.el.querySelector('.meta')!
  if (f.type === 'agent.run.delta') {
    if (f.seq <= r.seq) return // seen on both sockets while the lease rotated
    r.seq = f.seq
    r.text += f.text
    r.el.querySelector('.text')!.textContent = r.text
    scrollToBottom()
    return
  }
  meta.textContent = f.type === 'agent.run.completed' ? 'Agent (done)' : f.type === 'agent.run.cancelled' ? 'Agent (cancelled)' : `Agent (failed: ${f.detail})`
  r.el.classList.remove('streaming')
  if (currentRun?.runId === f.runId) {
    currentRun = undefined
    agentCancel.hidden = true
  }
  // A completed run's message arrives as message.created; the stream view then goes away.
  setTimeout(() => removeRun(f.runId), f.type === 'agent.run.completed' ? 300 : 10_000)
}

export function wireAgents(): void {
  $('#agent-run').addEventListener('click', () => void runAgent().catch(showError))
  agentCancel.addEventListener('click', () => {
    if (!currentRun) return
    void api('POST', `/api/agents/${currentRun.agentId}/runs/${currentRun.runId}/cancel`, {}).catch(showError)
  })
}

/**
 * What the client knows about agent replies: each agent's name (the caller's own agents and those
 * shared with the open conversation) and each run started, seen or listed for the conversation
 * (which agent, its name when the run started, the prompt when it was the caller's), so that a reply
 * is labelled with the agent's name and offers "Copy" and "Regenerate", after a reload too. Imports
 * no UI module: ui.ts and message-view.ts use it, and it must not pull them back in.
 */
import { h } from './dom.js'

export interface RunInfo {
  agentId: string
  conversationId: string
  /** the agent's name when the run started (run events and the conversation's run list carry it) */
  agentName?: string | undefined
  /** the prompt, when this page started the run (needed to regenerate) */
  input?: string
}

const names = new Map<string, string>()
const runs = new Map<string, RunInfo>()
/** how a run is restarted; set by agents.ts so this module stays free of API and store imports */
let regenerate: ((info: RunInfo & { input: string }) => void) | undefined

export function setAgentNames(list: readonly { id: string; name: string }[]): void {
  names.clear()
  for (const a of list) names.set(a.id, a.name)
}

/**
 * `@AgentName rest` at the start of a message: the caller's agent with the longest name that
 * matches (names may hold spaces), case-insensitively, followed by a space or the end; and the rest,
 * which becomes the run's prompt.
 */
export function mentionedAgent(text: string): { agentId: string; input: string } | undefined {
  if (!text.startsWith('@')) return undefined
  const lower = text.slice(1).toLowerCase()
  let best: [string, string] | undefined
  for (const [id, name] of names) {
    const n = name.toLowerCase()
    if (lower.startsWith(n) && /^(\s|$)/.test(lower.slice(n.length)) && (!best || name.length > best[1].length)) best = [id, name]
  }
  return best ? { agentId: best[0], input: text.slice(1 + best[1].length).trim() } : undefined
}

export function rememberRun(runId: string, info: RunInfo): void {
  const known = runs.get(runId)
  runs.set(runId, { ...info, agentName: info.agentName ?? known?.agentName, input: info.input ?? known?.input })
}

export function onRegenerate(fn: (info: RunInfo & { input: string }) => void): void {
  regenerate = fn
}

/** The agent's name when the caller can know it (their own agent), otherwise "Agent". */
export function agentLabel(agentId: string | undefined): string {
  return (agentId && names.get(agentId)) || 'Agent'
}

export function runLabel(runId: string): string {
  const info = runs.get(runId)
  return info?.agentName || agentLabel(info?.agentId)
}

/** What a reply's row shows from its run: when it changes, the row is rebuilt. */
export function runSignature(runId: string): string {
  return `${runLabel(runId)}|${runs.get(runId)?.input !== undefined ? 'again' : ''}`
}

async function copyText(text: string, button: HTMLButtonElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(text)
    button.textContent = 'Copied'
  } catch {
    // no clipboard permission (an insecure origin, a denied prompt): say so rather than fail quietly
    button.textContent = 'Copy failed'
  }
  setTimeout(() => (button.textContent = 'Copy'), 2000)
}

/** "Copy" for any agent reply; "Regenerate" when the prompt of its run is known to this page. */
export function replyActions(runId: string, text: () => string): HTMLElement {
  const name = runLabel(runId)
  const copy = h('button', { type: 'button', textContent: 'Copy', attrs: { 'aria-label': `Copy ${name}'s reply` } })
  copy.addEventListener('click', () => void copyText(text(), copy))
  const info = runs.get(runId)
  const again =
    info?.input !== undefined && regenerate
      ? h('button', {
          type: 'button',
          textContent: 'Regenerate',
          attrs: { 'aria-label': `Regenerate ${name}'s reply` },
          onclick: () => regenerate?.({ ...info, input: info.input! })
        })
      : null
  return h('span', { class: 'actions' }, copy, again)
}

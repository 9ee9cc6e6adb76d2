/**
 * The agent editor, a modal <dialog> (focus moves in and stays, Escape closes, focus returns to the
 * button that opened it): name, instructions, provider and model from what operations configured,
 * temperature, the tools the agent may call and which egress tools may receive conversation data,
 * and who may run it (only its owner, or the members of the open conversation).
 * Loaded on first use (agents.ts imports it dynamically) to keep it off the first load.
 * The API's refusals land next to their field: schema errors by their `errors` path, the service's
 * own checks by the field name their detail starts with ("tools: …", "dataEgress: …").
 */
import { api, ApiError } from './api.js'
import { h } from './dom.js'
import './agent-editor.css'

interface Agent {
  id: string
  name: string
  instructions: string
  provider: string
  model: string
  tools: string[]
  dataEgress: string[]
  temperature: number | null
  sharedConversationId: string | null
}
interface ProviderInfo {
  id: string
  kind: string
  models: string[]
  default: boolean
}
interface ToolInfo {
  name: string
  egress: boolean
  source: 'builtin' | 'mcp'
}

const TOOL_HELP: Record<string, string> = {
  'chat.search': 'Search messages of conversations everyone here can read.',
  'chat.history': 'Read earlier messages of a conversation everyone here can read.',
  'files.read': 'Read files shared in conversations everyone here can read.',
  'web.fetch': 'Fetch pages from web sites operations allowed.'
}
const FIELDS = ['name', 'instructions', 'provider', 'model', 'temperature', 'tools', 'sharing'] as const
type Field = (typeof FIELDS)[number]

function fieldOf(path: string, detail: string): Field | undefined {
  const key = (path.replace(/^body\/?/, '').split('/')[0] || detail.match(/^(\w+):/)?.[1]) ?? ''
  if (key === 'dataEgress') return 'tools'
  if (key === 'sharedConversationId' || /^Conversation not found/.test(detail)) return 'sharing'
  if (/provider/i.test(detail) && !key) return /model/.test(detail) ? 'model' : 'provider'
  return (FIELDS as readonly string[]).includes(key) ? (key as Field) : undefined
}

/** The open conversation, which the agent may be shared with. */
export interface OpenConversation {
  id: string
  title: string
}

export function editAgent(agentId: string | undefined, opener: HTMLElement, conversation: OpenConversation | undefined, saved: (a: Agent) => void): void {
  void build(agentId, opener, conversation, saved)
}

async function build(agentId: string | undefined, opener: HTMLElement, conversation: OpenConversation | undefined, saved: (a: Agent) => void): Promise<void> {
  const [current, { providers }, { tools }] = await Promise.all([
    agentId ? api<Agent>('GET', `/api/agents/${agentId}`) : Promise.resolve(undefined),
    api<{ providers: ProviderInfo[] }>('GET', '/api/agents/providers'),
    api<{ tools: ToolInfo[] }>('GET', '/api/agents/tools')
  ])
  const errors = new Map<Field, HTMLElement>(FIELDS.map((f) => [f, h('p', { id: `agent-${f}-error`, class: 'field-error', attrs: { role: 'alert' } })]))
  const described = (f: Field, hint?: string) => ({ 'aria-describedby': `${hint ? `agent-${f}-hint ` : ''}agent-${f}-error` })

  const name = h('input', { id: 'agent-name', maxLength: 100, required: true, value: current?.name ?? '', attrs: described('name') })
  const instructions = h('textarea', {
    id: 'agent-instructions',
    maxLength: 20_000,
    rows: 6,
    value: current?.instructions ?? '',
    attrs: described('instructions', 'hint')
  })
  const provider = h(
    'select',
    { id: 'agent-provider', attrs: described('provider') },
    ...providers.map((p) => h('option', { value: p.id, textContent: p.default ? `${p.id} (default)` : p.id }))
  )
  provider.value = current?.provider ?? providers.find((p) => p.default)?.id ?? providers[0]?.id ?? ''
  const model = h('select', { id: 'agent-model', attrs: described('model') })
  const fillModels = (keep?: string) => {
    const models = providers.find((p) => p.id === provider.value)?.models ?? []
    model.replaceChildren(...models.map((m) => h('option', { value: m, textContent: m })))
    if (keep && models.includes(keep)) model.value = keep
  }
  fillModels(current?.model)
  provider.addEventListener('change', () => fillModels())
  const temperature = h('input', {
    id: 'agent-temperature',
    type: 'number',
    min: '0',
    max: '2',
    step: '0.1',
    value: current?.temperature === null || current?.temperature === undefined ? '' : String(current.temperature),
    attrs: described('temperature', 'hint')
  })

  // Private, or shared with the open conversation; an agent shared elsewhere keeps that choice too.
  const sharedNow = current?.sharedConversationId ?? null
  const sharing = h(
    'select',
    { id: 'agent-sharing', attrs: described('sharing', 'hint') },
    h('option', { value: '', textContent: 'Only me' }),
    conversation ? h('option', { value: conversation.id, textContent: `Members of “${conversation.title || 'this conversation'}”` }) : null,
    sharedNow && sharedNow !== conversation?.id ? h('option', { value: sharedNow, textContent: 'Members of another conversation' }) : null
  )
  sharing.value = sharedNow ?? ''

  const toolBoxes = tools.map((t) => {
    const id = `agent-tool-${t.name.replace(/[^A-Za-z0-9_-]/g, '-')}`
    const use = h('input', { type: 'checkbox', id, value: t.name, checked: current?.tools.includes(t.name) ?? false })
    const egress = t.egress
      ? h('input', { type: 'checkbox', id: `${id}-data`, checked: current?.dataEgress.includes(t.name) ?? false, disabled: !use.checked })
      : undefined
    use.addEventListener('change', () => {
      if (!egress) return
      egress.disabled = !use.checked
      if (!use.checked) egress.checked = false
    })
    const help = TOOL_HELP[t.name] ?? (t.source === 'mcp' ? 'A tool of a server operations connected.' : '')
    const row = h(
      'li',
      { class: 'agent-tool' },
      h('label', { htmlFor: id }, use, ` ${t.name}`),
      h('small', { textContent: ` ${help}${t.egress ? ' Sends what the agent gives it off Palisade.' : ''}` }),
      egress
        ? h(
            'div',
            { class: 'agent-egress' },
            h('label', { htmlFor: egress.id }, egress, ' May receive conversation and file data'),
            h('small', {
              textContent:
                ' Off: once the agent has read messages or files in a run, this tool is blocked, so nothing it read can leave. On: you trust this tool with what the agent read.'
            })
          )
        : null
    )
    return { tool: t, use, egress, row }
  })

  const fieldRow = (f: Field, label: string, control: HTMLElement, hint?: string) =>
    h(
      'div',
      { class: 'field' },
      h('label', { htmlFor: control.id, textContent: label }),
      control,
      hint ? h('small', { id: `agent-${f}-hint`, textContent: hint }) : null,
      errors.get(f)!
    )
  const save = h('button', { type: 'submit', class: 'primary', textContent: current ? 'Save agent' : 'Create agent' })
  const cancel = h('button', { type: 'button', textContent: 'Cancel' })
  const formError = h('p', { class: 'error', attrs: { role: 'alert' } })
  const form = h(
    'form',
    { noValidate: true },
    fieldRow('name', 'Name', name),
    fieldRow('instructions', 'Instructions', instructions, 'What the agent should do and how it should answer.'),
    fieldRow('provider', 'Provider', provider),
    fieldRow('model', 'Model', model),
    fieldRow('temperature', 'Temperature', temperature, 'From 0 (focused) to 2 (varied). Leave empty for the provider’s default.'),
    fieldRow(
      'sharing',
      'Who may run it',
      sharing,
      'Members may run a shared agent (it reads only what all of them can), never see its instructions or change it. It stops being shared if you leave.'
    ),
    h(
      'fieldset',
      { class: 'agent-tools', attrs: { 'aria-describedby': 'agent-tools-error' } },
      h('legend', { textContent: 'Tools the agent may use' }),
      toolBoxes.length ? h('ul', {}, ...toolBoxes.map((b) => b.row)) : h('p', { textContent: 'No tools are available.' }),
      errors.get('tools')!
    ),
    formError,
    h('div', { class: 'row' }, save, cancel)
  )
  const title = current ? `Edit agent ${current.name}` : 'New agent'
  const dialog = h(
    'dialog',
    { class: 'dialog agent-editor', attrs: { 'aria-labelledby': 'agent-editor-title' } },
    h('h2', { id: 'agent-editor-title', textContent: title }),
    form
  )
  document.body.append(dialog)

  const close = () => {
    dialog.close()
    dialog.remove()
    opener.focus()
  }
  const controls: Record<Field, HTMLElement> = { name, instructions, provider, model, temperature, tools: toolBoxes[0]?.use ?? save, sharing }
  const showErrors = (found: [Field | undefined, string][]) => {
    for (const [f, el] of errors) {
      el.textContent = ''
      controls[f].removeAttribute('aria-invalid')
    }
    formError.textContent = ''
    const byField = new Map<Field, string[]>()
    for (const [f, message] of found) {
      if (!f) formError.textContent = message
      else byField.set(f, [...(byField.get(f) ?? []), message])
    }
    let first: HTMLElement | undefined
    for (const f of FIELDS) {
      const all = byField.get(f)
      if (!all) continue
      // An optional-or-null field fails every branch of its union; the branch that says why is the one to show.
      const telling = all.filter((m) => !/^must (be null|match a schema in anyOf)$/.test(m))
      errors.get(f)!.textContent = (telling.length ? telling : all).join('; ')
      controls[f].setAttribute('aria-invalid', 'true')
      first ??= controls[f]
    }
    first?.focus()
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const local: [Field, string][] = []
    if (!name.value.trim()) local.push(['name', 'Give the agent a name.'])
    const temp = temperature.value.trim()
    if (temp && !(Number(temp) >= 0 && Number(temp) <= 2)) local.push(['temperature', 'Use a number from 0 to 2, or leave it empty.'])
    if (local.length) return showErrors(local)
    const chosen = toolBoxes.filter((b) => b.use.checked).map((b) => b.tool.name)
    const body = {
      name: name.value.trim(),
      instructions: instructions.value,
      provider: provider.value,
      model: model.value,
      temperature: temp ? Number(temp) : null,
      tools: chosen,
      dataEgress: toolBoxes.filter((b) => b.use.checked && b.egress?.checked).map((b) => b.tool.name),
      sharedConversationId: sharing.value || null
    }
    save.disabled = true
    void (current ? api<Agent>('PATCH', `/api/agents/${current.id}`, body) : api<Agent>('POST', '/api/agents', body))
      .then((a) => {
        close()
        saved(a)
      })
      .catch((err: unknown) => {
        if (!(err instanceof ApiError)) return showErrors([[undefined, 'Could not save the agent.']])
        const list: [Field | undefined, string][] = err.errors.length
          ? err.errors.map((e) => [fieldOf(e.path, ''), e.message])
          : [[fieldOf('', err.message), err.message]]
        showErrors(list)
      })
      .finally(() => (save.disabled = false))
  })
  cancel.addEventListener('click', close)
  dialog.addEventListener('cancel', (ev) => {
    ev.preventDefault()
    close()
  })
  dialog.showModal()
  name.focus()
}

/**
 * Attachments: pick or drop a file, check it against the server's limits, upload it with progress,
 * then send it as a message. Each file gets a row next to the message box that shows its progress
 * and, if it is refused (here or by the server), why, until it is dismissed.
 */
import type { FileMeta } from '@palisade/contracts'
import { $, announce, h } from './dom.js'
import { goToLogin } from './api.js'
import { queueSend } from './outbox.js'
import { activeId } from './store.js'
import { refusalOf } from './upload-check.js'
import { els } from './ui.js'

const rows = $('#uploads')

function uploadRow(file: File): { row: HTMLElement; progress: HTMLProgressElement; refuse(reason: string): void; done(): void } {
  const progress = h('progress', { max: 100, value: 0, attrs: { 'aria-label': `Uploading ${file.name}` } })
  const row = h('li', { class: 'upload' }, h('span', { class: 'upload-name', textContent: file.name }), progress)
  rows.append(row)
  return {
    row,
    progress,
    refuse(reason) {
      row.classList.add('refused')
      progress.remove()
      const dismiss = h('button', { type: 'button', textContent: 'Dismiss', attrs: { 'aria-label': `Dismiss the message about ${file.name}` } })
      dismiss.addEventListener('click', () => {
        row.remove()
        els.text.focus()
      })
      row.append(h('span', { class: 'upload-error', textContent: ` not uploaded: ${reason}`, attrs: { role: 'alert' } }), dismiss)
    },
    done: () => row.remove()
  }
}

/** The server's reason from a problem+json answer, or a plain status when there is none. */
function reasonOf(xhr: XMLHttpRequest): string {
  try {
    const p = JSON.parse(xhr.responseText) as { detail?: unknown }
    if (typeof p.detail === 'string' && p.detail) return p.detail
  } catch {}
  return `the server refused it (${xhr.status})`
}

export async function upload(file: File): Promise<void> {
  const conversationId = activeId()
  if (!conversationId) return
  const view = uploadRow(file)
  if (navigator.onLine === false) return view.refuse('you are offline; add it again when the connection is back.')
  const refusal = await refusalOf(file)
  if (refusal) return view.refuse(refusal)
  const form = new FormData()
  form.append('conversationId', conversationId)
  form.append('file', file, file.name)
  // XMLHttpRequest for its upload progress events (fetch has none); cookies are same-origin.
  const xhr = new XMLHttpRequest()
  xhr.open('POST', '/api/files')
  xhr.setRequestHeader('accept', 'application/json')
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) view.progress.value = Math.round((e.loaded / e.total) * 100)
  }
  xhr.onload = () => {
    if (xhr.status === 401) return goToLogin()
    if (xhr.status !== 201) return view.refuse(reasonOf(xhr))
    view.done()
    const meta = JSON.parse(xhr.responseText) as FileMeta
    announce(`${meta.name} uploaded`)
    queueSend(conversationId, meta.name, [meta.id])
  }
  xhr.onerror = () => view.refuse('the connection failed; try again.')
  xhr.send(form)
}

export function wireFiles(): void {
  const fileInput = $('#file-input') as HTMLInputElement
  fileInput.addEventListener('change', () => {
    for (const f of fileInput.files ?? []) void upload(f)
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
    for (const f of ev.dataTransfer?.files ?? []) void upload(f)
  })
}

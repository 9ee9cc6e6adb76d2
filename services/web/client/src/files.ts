/** Attachments: pick or drop a file, upload it with progress, then send it as a message. */
import type { FileMeta } from '@palisade/contracts'
import { $, announce } from './dom.js'
import { goToLogin } from './api.js'
import { sendMessage } from './composer.js'
import { activeId } from './store.js'
import { els } from './ui.js'

const progress = $('#upload-progress') as HTMLProgressElement

function upload(file: File): void {
  const conversationId = activeId()
  if (!conversationId) return
  const form = new FormData()
  form.append('conversationId', conversationId)
  form.append('file', file, file.name)
  // XMLHttpRequest for its upload progress events (fetch has none); cookies are same-origin.
  const xhr = new XMLHttpRequest()
  xhr.open('POST', '/api/files')
  xhr.setRequestHeader('accept', 'application/json')
  progress.hidden = false
  progress.value = 0
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100)
  }
  xhr.onload = () => {
    progress.hidden = true
    if (xhr.status === 401) return goToLogin()
    if (xhr.status !== 201) return announce(`Upload failed (${xhr.status})`)
    const meta = JSON.parse(xhr.responseText) as FileMeta
    void sendMessage(meta.name, [meta.id])
  }
  xhr.onerror = () => {
    progress.hidden = true
    announce('Upload failed')
  }
  xhr.send(form)
}

export function wireFiles(): void {
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
}

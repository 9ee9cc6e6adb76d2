/** The message box: sending (over the socket, HTTP as the fallback), Enter to send, typing notices. */
import type { Message } from '@palisade/contracts'
import { $ } from './dom.js'
import { api } from './api.js'
import { realtime } from './connection.js'
import { scrollToBottom } from './message-list.js'
import { activeId, addPending, batch, dropPending, isPending, putMessages } from './store.js'
import { els, newId, showError } from './ui.js'

const composer = $('#composer') as HTMLFormElement
let lastTypingSent = 0

export async function sendMessage(text: string, attachments: string[]): Promise<void> {
  const conversationId = activeId()
  if (!conversationId) return
  const clientMessageId = newId()
  addPending(clientMessageId, { text, attachments })
  scrollToBottom()
  const frame = { type: 'message.send' as const, id: clientMessageId, conversationId, text, clientMessageId, ...(attachments.length ? { attachments } : {}) }
  if (realtime.send(frame)) {
    // If no ack arrives (socket dropped), the same clientMessageId over HTTP cannot duplicate it.
    setTimeout(() => {
      if (isPending(clientMessageId)) void sendOverHttp(conversationId, text, clientMessageId, attachments)
    }, 5000)
  } else await sendOverHttp(conversationId, text, clientMessageId, attachments)
}

async function sendOverHttp(conversationId: string, text: string, clientMessageId: string, attachments: string[]): Promise<void> {
  try {
    const m = await api<Message>('POST', `/api/chat/conversations/${conversationId}/messages`, {
      text,
      clientMessageId,
      ...(attachments.length ? { attachments } : {})
    })
    batch(() => {
      dropPending(clientMessageId)
      putMessages([m])
    })
  } catch (err) {
    dropPending(clientMessageId)
    showError(err)
  }
}

export function wireComposer(): void {
  composer.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const text = els.text.value.trim()
    if (!text) return
    els.text.value = ''
    void sendMessage(text, [])
  })
  els.text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault()
      composer.requestSubmit()
    }
  })
  els.text.addEventListener('input', () => {
    const id = activeId()
    if (!id || Date.now() - lastTypingSent < 2000) return
    lastTypingSent = Date.now()
    realtime.send({ type: 'typing', conversationId: id })
  })
}

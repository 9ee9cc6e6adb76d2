/** The message box: Enter to send (through the outbox, outbox.ts), typing notices. */
import { $ } from './dom.js'
import { runMentioned } from './agents.js'
import { realtime } from './connection.js'
import { scrollToBottom } from './message-list.js'
import { encodeMentions, wireMentionPicker } from './mention-picker.js'
import { queueSend } from './outbox.js'
import { activeId } from './store.js'
import { els } from './ui.js'

const composer = $('#composer') as HTMLFormElement
let lastTypingSent = 0

export function wireComposer(): void {
  wireMentionPicker(els.text)
  composer.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const text = els.text.value.trim()
    const id = activeId()
    if (!text || !id) return
    const { text: body, refs } = encodeMentions(els.text, text)
    els.text.value = ''
    els.text.dispatchEvent(new Event('input'))
    queueSend(id, body, [], refs)
    runMentioned(id, text)
    scrollToBottom()
  })
  els.text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault()
      composer.requestSubmit()
    }
  })
  els.text.addEventListener('input', () => {
    const id = activeId()
    // An emptied box (just sent, or cleared) is nobody typing.
    if (!id || !els.text.value || Date.now() - lastTypingSent < 2000) return
    lastTypingSent = Date.now()
    realtime.send({ type: 'typing', conversationId: id })
  })
}

/** "X is typing…" under the messages: shown on typing frames, gone after 4 s or their message. */
import { $ } from './dom.js'
import { resolveNames } from './names.js'
import { person } from './ui.js'

const line = $('#typing')
const typing = new Map<string, ReturnType<typeof setTimeout>>()

export function showTyping(userId: string): void {
  clearTimeout(typing.get(userId))
  typing.set(
    userId,
    setTimeout(() => stopTyping(userId), 4000)
  )
  renderTyping()
}

export function stopTyping(userId: string): void {
  clearTimeout(typing.get(userId))
  if (typing.delete(userId)) renderTyping()
}

export function renderTyping(): void {
  resolveNames(typing.keys())
  const names = [...typing.keys()].map(person)
  line.textContent = names.length ? `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…` : ''
}

/** On a phone the agent bar is folded behind a toggle next to the message box (styles in phone.css). */
import { $ } from './dom.js'

export function wireAgentToggle(): void {
  const toggle = $('#agent-toggle')
  toggle.addEventListener('click', () => {
    const open = document.body.classList.toggle('agent-open')
    toggle.setAttribute('aria-expanded', String(open))
  })
}

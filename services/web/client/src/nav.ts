/** The conversation list as a drawer on narrow screens, and the skip link. */
import { $ } from './dom.js'

const navToggle = $('#nav-toggle')

export function closeNav(): void {
  document.body.classList.remove('nav-open')
  navToggle.setAttribute('aria-expanded', 'false')
}

export function wireNav(): void {
  // The skip link moves focus only: following its #fragment would replace the #c=<id> location.
  $('.skip').addEventListener('click', (ev) => {
    ev.preventDefault()
    ;($('#composer-text') as HTMLTextAreaElement).focus()
  })
  navToggle.addEventListener('click', () => {
    const open = document.body.classList.toggle('nav-open')
    navToggle.setAttribute('aria-expanded', String(open))
  })
}

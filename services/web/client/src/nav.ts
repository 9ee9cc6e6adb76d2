/** The conversation list as a drawer on narrow screens. */
import { $ } from './dom.js'

const navToggle = $('#nav-toggle')

export function closeNav(): void {
  document.body.classList.remove('nav-open')
  navToggle.setAttribute('aria-expanded', 'false')
}

export function wireNav(): void {
  navToggle.addEventListener('click', () => {
    const open = document.body.classList.toggle('nav-open')
    navToggle.setAttribute('aria-expanded', String(open))
  })
}

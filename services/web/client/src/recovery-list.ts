import { h } from './dom.js'

/** New recovery codes, shown once: a list the user can copy, with the warning that they will not be shown again. */
export function recoveryCodesBlock(codes: string[]): HTMLElement {
  return h(
    'div',
    { class: 'recovery-codes', attrs: { role: 'group', 'aria-labelledby': 'recovery-codes-title' } },
    h('h4', { id: 'recovery-codes-title', tabIndex: -1, textContent: 'Your recovery codes' }),
    h('p', { textContent: 'Save these codes somewhere safe now: each signs you in once if you lose your authenticator, and they will not be shown again.' }),
    h('ol', { class: 'codes' }, ...codes.map((c) => h('li', {}, h('code', { textContent: c }))))
  )
}

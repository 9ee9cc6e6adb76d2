/**
 * The Share action for a file or a conversation: shown only when the deployment allows share links
 * (SHARE_LINKS, read from `GET /api/files/limits`); the dialog itself is its own chunk, fetched on
 * first use, so none of it is part of the first load.
 */
import { h } from './dom.js'
import { showError } from './ui.js'
import { fileLimits } from './upload-check.js'

export type ShareTarget = { kind: 'file'; fileId: string; name: string } | { kind: 'conversation'; conversationId: string; name: string }
/** mirrors SHARE_LINKS in the files service's config (contracts FileLimitsSchema.shareLinks) */
export type SharePolicy = 'off' | 'signed-in' | 'public'

/** The policy, or 'off' while it cannot be known (nothing is offered that might be refused). */
export async function sharePolicy(): Promise<SharePolicy> {
  return (await fileLimits())?.shareLinks ?? 'off'
}

export async function openShare(target: ShareTarget, opener: HTMLElement): Promise<void> {
  const [{ shareDialog }, policy] = await Promise.all([import('./share-dialog.js'), sharePolicy()])
  if (policy !== 'off') shareDialog(target, policy, opener)
}

/** Hidden until the policy is known to allow links. */
export function revealWhenSharing(button: HTMLElement): void {
  button.hidden = true
  void sharePolicy().then((p) => (button.hidden = p === 'off'))
}

export function shareButton(target: ShareTarget): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'share', textContent: 'Share', attrs: { 'aria-label': `Share ${target.name}` } })
  button.addEventListener('click', () => void openShare(target, button).catch(showError))
  revealWhenSharing(button)
  return button
}

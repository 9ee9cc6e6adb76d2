import type pg from 'pg'

/** A factor as administrators see it: kind, name, since when. Never a secret. */
export interface FactorView {
  kind: string
  name: string
  createdAt: Date | null
}

/**
 * What a second-factor module (TOTP, passkeys, recovery codes) tells the admin side. Each module
 * registers one provider in `FACTOR_PROVIDERS`; the admin API lists and resets factors only
 * through these, so it never reads a factor table itself.
 */
export interface FactorProvider {
  kind: string
  /** the user's factors of this kind */
  list(db: pg.ClientBase, userId: string): Promise<FactorView[]>
  /**
   * removes every factor of this kind of the user, inside the admin's transaction; returns how many
   * were removed
   */
  reset(db: pg.ClientBase, userId: string): Promise<number>
}

/**
 * The registered second-factor modules. Empty until the factor tables exist: then an admin's
 * "reset factors" removes nothing (and says so) and the factor list shows the password only.
 */
export const FACTOR_PROVIDERS: FactorProvider[] = []

/** Every factor of a user: the password first, then what each provider lists. */
export async function listFactors(db: pg.ClientBase, userId: string, passwordSince: Date): Promise<FactorView[]> {
  const out: FactorView[] = [{ kind: 'password', name: 'Password', createdAt: passwordSince }]
  for (const p of FACTOR_PROVIDERS) out.push(...(await p.list(db, userId)))
  return out
}

/** Resets every second factor of a user; returns the kinds that had something removed. */
export async function resetFactors(db: pg.ClientBase, userId: string): Promise<string[]> {
  const reset: string[] = []
  for (const p of FACTOR_PROVIDERS) if ((await p.reset(db, userId)) > 0) reset.push(p.kind)
  return reset
}

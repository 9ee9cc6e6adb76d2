import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Page } from 'playwright-core'

// The page's CSP refuses an injected <script> (addScriptTag): axe is evaluated as a string instead.
const AXE = readFileSync(join(createRequire(import.meta.url).resolve('axe-core'), '..', 'axe.min.js'), 'utf8')

interface AxeViolation {
  id: string
  impact: string
  nodes: { target: unknown[] }[]
}

/** axe-core's violations (any impact) on the page as it is, one line each, prefixed with `what`. */
export async function axe(page: Page, what: string): Promise<string[]> {
  await page.evaluate(AXE)
  const violations = await page.evaluate(() =>
    (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: AxeViolation[] }> } }).axe
      .run(document, { resultTypes: ['violations'] })
      .then((r) => r.violations)
  )
  return violations.map((v) => `${what}: ${v.id} (${v.impact}) at ${v.nodes.map((n) => JSON.stringify(n.target)).join(' ')}`)
}

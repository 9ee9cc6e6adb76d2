import type { Check, ProbeResult } from './types.js'

/** A probe's verdict from its checks: it passes only when it made at least one check and all passed. */
export function probeResult(id: number, name: string, expected: string, checks: Check[], ms = 0): ProbeResult {
  const failed = checks.filter((c) => !c.pass)
  const pass = checks.length > 0 && failed.length === 0
  const observed =
    checks.length === 0
      ? 'no check could run'
      : pass
        ? `all ${checks.length} checks as expected`
        : `${failed.length}/${checks.length} checks failed: ${failed.map((c) => `${c.what} → ${c.observed}`).join('; ')}`
  return { id, name, expected, observed, pass, checks, ms }
}

export function check(what: string, expected: string, observed: string, pass: boolean): Check {
  return { what, expected, observed, pass }
}

/** Runs a probe's body, turning an error into a failed check, and times it. */
export async function timed(id: number, name: string, expected: string, body: (checks: Check[]) => Promise<void>): Promise<ProbeResult> {
  const started = Date.now()
  const checks: Check[] = []
  try {
    await body(checks)
  } catch (err) {
    checks.push(check('probe ran to completion', 'no error', `error: ${(err as Error).message}`, false))
  }
  return probeResult(id, name, expected, checks, Date.now() - started)
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length)
}

function cut(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`
}

/** One table per probe: every check with expected, observed and PASS/FAIL, then the probe's verdict. */
export function renderTable(results: ProbeResult[]): string {
  const out: string[] = []
  for (const r of results) {
    out.push(`\nProbe ${r.id}: ${r.name} — ${r.pass ? 'PASS' : 'FAIL'} (${r.ms} ms)`)
    out.push(`  expected: ${r.expected}`)
    const w = Math.min(60, Math.max(5, ...r.checks.map((c) => c.what.length)))
    const e = Math.min(40, Math.max(8, ...r.checks.map((c) => c.expected.length)))
    out.push(`  ${pad('check', w)} | ${pad('expected', e)} | ${pad('observed', 40)} | result`)
    out.push(`  ${'-'.repeat(w)}-+-${'-'.repeat(e)}-+-${'-'.repeat(40)}-+-------`)
    for (const c of r.checks)
      out.push(`  ${pad(cut(c.what, w), w)} | ${pad(cut(c.expected, e), e)} | ${pad(cut(c.observed, 40), 40)} | ${c.pass ? 'PASS' : 'FAIL'}`)
  }
  const failed = results.filter((r) => !r.pass)
  out.push(`\n${results.length - failed.length}/${results.length} probes passed${failed.length ? `; FAILED: ${failed.map((r) => r.id).join(', ')}` : ''}`)
  return `${out.join('\n')}\n`
}

function xml(s: string): string {
  // XML 1.0 forbids most control characters even escaped: drop them.
  return s
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
}

/** JUnit XML: one testsuite per probe, one testcase per check (what CI systems render). */
export function renderJUnit(results: ProbeResult[], suiteName = 'palisade-isolation'): string {
  const tests = results.reduce((n, r) => n + Math.max(1, r.checks.length), 0)
  const failures = results.reduce((n, r) => n + (r.checks.length === 0 ? 1 : r.checks.filter((c) => !c.pass).length), 0)
  const time = (ms: number) => (ms / 1000).toFixed(3)
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="${xml(suiteName)}" tests="${tests}" failures="${failures}" time="${time(results.reduce((n, r) => n + r.ms, 0))}">`
  ]
  for (const r of results) {
    const cases = r.checks.length ? r.checks : [{ what: r.name, expected: r.expected, observed: r.observed, pass: false }]
    const f = cases.filter((c) => !c.pass).length
    lines.push(`  <testsuite name="${xml(`probe ${r.id}: ${r.name}`)}" tests="${cases.length}" failures="${f}" time="${time(r.ms)}">`)
    for (const c of cases) {
      const head = `    <testcase classname="${xml(`isolation.probe${r.id}`)}" name="${xml(c.what)}"`
      if (c.pass) lines.push(`${head}/>`)
      else
        lines.push(
          `${head}>`,
          `      <failure message="${xml(`expected ${c.expected}, observed ${c.observed}`)}">${xml(`expected: ${c.expected}\nobserved: ${c.observed}`)}</failure>`,
          `    </testcase>`
        )
    }
    lines.push('  </testsuite>')
  }
  lines.push('</testsuites>', '')
  return lines.join('\n')
}

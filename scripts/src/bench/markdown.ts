/**
 * The web client's Markdown renderer in Chromium (issue 26 item 1: a 16 KiB message renders in under
 * 50 ms). Rows: a whole 16 KiB message (parse and DOM; then with the layout it forces), and one
 * more delta of a 16 KiB streaming reply (its completed blocks kept, layout included). Latencies in
 * ms, measured in the page; on a loaded machine the p99 mostly measures the other processes.
 */
import { chromium, type Browser, type Page } from 'playwright-core'
import { markdownPage } from '../markdown-page.js'
import { latencyRow, type Bench, type Measurement, type RunOptions } from './framework.js'

export const MARKDOWN_ROWS = {
  message: 'markdown: render a 16 KiB message (parse, DOM)',
  layout: 'markdown: the same with the layout it forces',
  stream: 'markdown: one delta of a 16 KiB streaming reply'
}

/** Everything the renderer handles, repeated to 16 KiB: what a long agent answer looks like. */
export function sixteenKiB(): string {
  const block = [
    '## Section',
    '',
    'Some *emphasis*, **strong** and ~~struck~~ text with `inline code`, a [link](https://example.com/page?q=1) and https://auto.example.org/x.',
    'A second line of the same paragraph.',
    '',
    '- first item',
    '- second item with `code`',
    '  - nested item',
    '',
    '1. one',
    '2. two',
    '',
    '> a quoted line',
    '',
    '| name | value |',
    '|:-----|------:|',
    '| a    | 1     |',
    '| b    | 2     |',
    '',
    '```ts',
    'const total = items.reduce((n, x) => n + x.size, 0)',
    '```',
    '',
    ''
  ].join('\n')
  let s = ''
  while (s.length < 16 * 1024) s += block
  return s.slice(0, 16 * 1024)
}

declare global {
  interface Window {
    palisadeMarkdown: { renderMarkdown(source: string, into: HTMLElement, previous?: unknown): unknown }
  }
}

/** Renders in the page for `seconds`; returns each render's duration in ms, without and with layout. */
function loop(page: Page, source: string, seconds: number, stream: boolean): Promise<{ render: number[]; layout: number[] }> {
  return page.evaluate(
    ({ source, seconds, stream }) => {
      const md = window.palisadeMarkdown
      const root = document.createElement('div')
      document.body.replaceChildren(root)
      const render: number[] = []
      const layout: number[] = []
      const end = performance.now() + seconds * 1000
      // A stream's previous state: the reply without its last 64 characters.
      let state = stream ? md.renderMarkdown(source.slice(0, -64), root) : undefined
      while (performance.now() < end) {
        const t0 = performance.now()
        const next = md.renderMarkdown(source, root, state)
        render.push(performance.now() - t0)
        void root.offsetHeight
        layout.push(performance.now() - t0)
        state = stream ? md.renderMarkdown(source.slice(0, -64), root, next) : undefined
      }
      return { render, layout }
    },
    { source, seconds, stream }
  )
}

export const markdownBench: Bench = {
  name: 'markdown',
  description: 'the web Markdown renderer in headless Chromium: a 16 KiB message, a streaming delta',
  async setup() {
    const browser: Browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking']
    })
    try {
      const page = await markdownPage(browser)
      const source = sixteenKiB()
      return {
        targets: [],
        goals: [{ target: MARKDOWN_ROWS.message, maxP99Ms: 50 }],
        async measure(opts: RunOptions): Promise<Measurement[]> {
          const seconds = Math.max(1, opts.durationSeconds)
          if (opts.warmupSeconds > 0) await loop(page, source, opts.warmupSeconds, false)
          const whole = await loop(page, source, seconds, false)
          const delta = await loop(page, source, seconds, true)
          return [
            latencyRow(MARKDOWN_ROWS.message, whole.render, seconds),
            latencyRow(MARKDOWN_ROWS.layout, whole.layout, seconds),
            latencyRow(MARKDOWN_ROWS.stream, delta.layout, seconds)
          ]
        },
        teardown: () => browser.close()
      }
    } catch (err) {
      await browser.close()
      throw err
    }
  }
}

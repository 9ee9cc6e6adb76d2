/**
 * The web client's Markdown renderer (services/web/client/src/markdown-render.ts) in a real
 * Chromium page, for the hostile-input test and the render benchmark: built by path with Vite (as
 * the app's build does, minus the app) into one script exposed as `window.palisadeMarkdown`.
 * No DOM implementation in Node is trusted for this: what counts is what the browser builds.
 */
import { resolve } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { build, defaultClientConditions, type Rollup } from 'vite'

const RENDERER = resolve(import.meta.dirname, '..', '..', 'services', 'web', 'client', 'src', 'markdown-render.ts')

let bundle: Promise<string> | undefined

function renderer(): Promise<string> {
  bundle ??= build({
    configFile: false,
    logLevel: 'silent',
    resolve: { conditions: ['development', ...defaultClientConditions] },
    build: {
      write: false,
      target: 'es2022',
      minify: false,
      lib: { entry: RENDERER, formats: ['iife'], name: 'palisadeMarkdown', fileName: 'markdown' }
    }
  }).then((out) => {
    const result = (Array.isArray(out) ? out[0] : out) as Rollup.RollupOutput
    return result.output[0].code
  })
  return bundle
}

/** A blank page of `browser` with the renderer loaded; `document.body` is empty. */
export async function markdownPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage()
  await page.setContent('<!doctype html><html><head><meta charset="utf-8"></head><body></body></html>')
  await page.addScriptTag({ content: await renderer() })
  return page
}

import { defaultClientConditions, defineConfig, type Plugin } from 'vite'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const root = fileURLToPath(new URL('./client', import.meta.url))

/**
 * Writes `<file>.gz` beside every text file worth compressing, which the server's @fastify/static
 * (`preCompressed`) sends to clients that accept gzip: compressed once, at the highest level,
 * instead of on every request.
 */
function precompress(): Plugin {
  return {
    name: 'palisade-precompress',
    apply: 'build',
    writeBundle(options, bundle) {
      for (const name of Object.keys(bundle)) {
        if (!/\.(html|js|css|svg|json|map)$/.test(name)) continue
        const file = join(options.dir!, name)
        const body = readFileSync(file)
        if (body.length > 512) writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }))
      }
    }
  }
}

// No framework plugin: the app is plain TypeScript (see the README's "Web client" section).
export default defineConfig({
  root,
  base: '/',
  plugins: [precompress()],
  // Workspace libraries from their sources, as everything else in the repository runs them, so the
  // build does not depend on `tsc -b` having emitted their dist/ first.
  resolve: { conditions: ['development', ...defaultClientConditions] },
  build: {
    outDir: fileURLToPath(new URL('./dist/public', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // Nothing inline: the CSP allows only same-origin files (no data: assets, no inline preload polyfill).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    rollupOptions: { input: { app: `${root}/index.html`, login: `${root}/login.html` } }
  }
})

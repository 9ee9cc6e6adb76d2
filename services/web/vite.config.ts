import { defineConfig } from 'vite'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('./client', import.meta.url))

// No framework plugin: the app is plain TypeScript (see the README's "Web client" section).
export default defineConfig({
  root,
  base: '/',
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

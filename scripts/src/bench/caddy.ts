/**
 * Caddy as the edge, for `pnpm bench edge` only: a Caddyfile generated from the route table (the
 * same source as Traefik's configuration and the local edge), with `forward_auth` to auth's
 * /auth/verify on forward-auth routes, copying the identity headers onto the upstream request and
 * dropping any a client sent. Only routes whose service is running are emitted.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IDENTITY_HEADER_NAMES, REQUEST_ID_HEADER, ROUTES } from '@palisade/contracts'

export function caddyfile(port: number, servicePorts: Record<string, number>): string {
  const authPort = servicePorts.auth
  if (!authPort) throw new Error('auth is not running')
  // Longest path first: inside one `route` block Caddy keeps the written order (the first match
  // answers, as `respond 404` ends every other path).
  const routes = [...ROUTES].filter((r) => servicePorts[r.service]).sort((a, b) => b.path.length - a.path.length)
  const handles = routes.map((r) => {
    const paths = r.match === 'exact' ? r.path : `${r.path} ${r.path}/*`
    const auth =
      r.access === 'forward-auth'
        ? [
            ...IDENTITY_HEADER_NAMES.map((h) => `      request_header -${h}`),
            `      forward_auth 127.0.0.1:${authPort} {`,
            '        uri /auth/verify',
            `        copy_headers ${[...IDENTITY_HEADER_NAMES, REQUEST_ID_HEADER].join(' ')}`,
            '      }'
          ]
        : []
    // A nested `route` keeps this order: Caddy would otherwise run forward_auth before
    // request_header and strip the identity headers auth just answered.
    return [`    @${r.id} path ${paths}`, `    route @${r.id} {`, ...auth, `      reverse_proxy 127.0.0.1:${servicePorts[r.service]}`, '    }'].join('\n')
  })
  return `{\n  admin off\n  auto_https off\n}\n\nhttp://:${port} {\n  route {\n${handles.join('\n')}\n    respond 404\n  }\n}\n`
}

/** Starts `caddy run` with the generated configuration; resolves when it accepts connections. */
export async function startCaddy(port: number, servicePorts: Record<string, number>): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-caddy-'))
  const file = join(dir, 'Caddyfile')
  writeFileSync(file, caddyfile(port, servicePorts))
  const child = spawn('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HOME: dir } })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)))
  const deadline = Date.now() + 20_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`caddy exited: ${err}`)
    const ok = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false
    )
    if (ok) break
    if (Date.now() > deadline) throw new Error(`caddy did not start: ${err}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
  }
}

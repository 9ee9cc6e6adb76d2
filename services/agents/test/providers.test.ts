import { test } from 'tap'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '@palisade/platform'
import { sseData } from '../src/providers/sse.js'
import { LocalProvider } from '../src/providers/local.js'
import { OpenAiCompatibleProvider } from '../src/providers/openai.js'
import { ProviderRegistry } from '../src/providers/registry.js'
import { ProviderError, type ModelEvent, type ModelRequest } from '../src/providers/types.js'
import { startFakeOpenAi } from './helpers/fake-openai.js'

async function collect(it: AsyncIterable<ModelEvent>): Promise<ModelEvent[]> {
  const out: ModelEvent[] = []
  for await (const e of it) out.push(e)
  return out
}

function request(over: Partial<ModelRequest> = {}): ModelRequest {
  return { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], tools: [], maxTokens: 100, signal: new AbortController().signal, ...over }
}

async function* bytes(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p)
}

test('SSE parsing: split events, CRLF, comments, multi-line data', async (t) => {
  const out: string[] = []
  for await (const d of sseData(bytes(': comment\r\n', 'data: {"a"', ':1}\r\n\r\nevent: x\ndata: l1\ndata: l2\n\n', 'data:[DONE]\n\n'))) out.push(d)
  t.same(out, ['{"a":1}', 'l1\nl2', '[DONE]'])
})

test('local provider: deterministic echo, tool directives, output cap, abort', async (t) => {
  const p = new LocalProvider()
  const events = await collect(p.stream(request({ messages: [{ role: 'user', content: 'hello there' }] })))
  const text = events
    .filter((e) => e.type === 'text')
    .map((e) => (e as { text: string }).text)
    .join('')
  t.equal(text, 'You said: hello there')
  t.same(events.at(-1), { type: 'finish', reason: 'stop' })

  const ask = await collect(p.stream(request({ messages: [{ role: 'user', content: '@tool chat_history {"limit":5}\nsummarise' }] })))
  t.same(ask[0], { type: 'tool_call', call: { id: 'call_1', name: 'chat_history', arguments: '{"limit":5}' } })

  const after = await collect(
    p.stream(
      request({
        messages: [
          { role: 'user', content: '@tool chat_history {}' },
          { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'chat_history', arguments: '{}' }] },
          { role: 'tool', toolCallId: 'call_1', name: 'chat_history', content: 'DATA' }
        ]
      })
    )
  )
  t.match(
    after
      .filter((e) => e.type === 'text')
      .map((e) => (e as { text: string }).text)
      .join(''),
    /chat_history returned 4 characters: "DATA"/
  )

  const capped = await collect(p.stream(request({ messages: [{ role: 'user', content: '@long 50' }], maxTokens: 10 })))
  t.equal(capped.filter((e) => e.type === 'text').length, 10)
  t.same(capped.at(-1), { type: 'finish', reason: 'length' })

  const ctl = new AbortController()
  const it = p.stream(request({ messages: [{ role: 'user', content: '@slow 1000\nslow words here' }], signal: ctl.signal }))
  setTimeout(() => ctl.abort(new Error('stop')), 20)
  await t.rejects(collect(it))
})

test('openai-compatible provider: streaming text, usage, tool call fragments, key in header only', async (t) => {
  const fake = await startFakeOpenAi()
  t.teardown(() => fake.close())
  const key = 'sk-test-SECRET-0123456789'
  const p = new OpenAiCompatibleProvider({ id: 'fake', baseUrl: fake.url, models: ['gpt-test'], apiKey: key })

  fake.queue.push({ kind: 'text', text: 'one two three', usage: { prompt: 7, completion: 3 } })
  const ev = await collect(p.stream(request()))
  t.equal(
    ev
      .filter((e) => e.type === 'text')
      .map((e) => (e as { text: string }).text)
      .join(''),
    'one two three'
  )
  t.same(
    ev.find((e) => e.type === 'usage'),
    { type: 'usage', inputTokens: 7, outputTokens: 3 }
  )
  t.equal(fake.requests[0]!.headers.authorization, `Bearer ${key}`)
  t.equal(fake.requests[0]!.body.stream, true)
  t.equal(fake.requests[0]!.body.max_tokens, 100)

  fake.queue.push({
    kind: 'tools',
    calls: [
      { name: 'chat_search', arguments: '{"query":"quarterly numbers"}' },
      { name: 'files_read', arguments: '{"fileId":"x"}' }
    ]
  })
  const tools = await collect(p.stream(request()))
  const calls = tools.filter((e) => e.type === 'tool_call').map((e) => (e as { call: unknown }).call)
  t.same(calls, [
    { id: 'call_2_0', name: 'chat_search', arguments: '{"query":"quarterly numbers"}' },
    { id: 'call_2_1', name: 'files_read', arguments: '{"fileId":"x"}' }
  ])
  t.same(tools.at(-1), { type: 'finish', reason: 'tool_calls' })

  t.notMatch(JSON.stringify(p), key, 'the key does not serialise')
  t.notMatch(JSON.stringify({ p }), key)
})

test('openai-compatible provider: errors are clear, bodies and keys never surface', async (t) => {
  const fake = await startFakeOpenAi()
  t.teardown(() => fake.close())
  const key = 'sk-test-ECHOED-KEY-42'
  const p = new OpenAiCompatibleProvider({ id: 'fake', baseUrl: fake.url, models: ['gpt-test'], apiKey: key })

  fake.queue.push({ kind: 'status', status: 500, body: `{"error":"bad key ${key}"}` })
  const e500 = await collect(p.stream(request())).catch((e: unknown) => e)
  t.type(e500, ProviderError)
  t.match((e500 as ProviderError).message, /provider fake failed \(HTTP 500\)/)
  t.notMatch((e500 as ProviderError).message, key)

  fake.queue.push({ kind: 'status', status: 401 })
  const e401 = (await collect(p.stream(request())).catch((e: unknown) => e)) as ProviderError
  t.equal(e401.reason, 'provider_error')
  t.match(e401.message, /rejected the credentials/)

  fake.queue.push({ kind: 'json', body: { choices: [] } })
  const notStream = (await collect(p.stream(request())).catch((e: unknown) => e)) as ProviderError
  t.match(notStream.message, /did not stream/)

  fake.queue.push({ kind: 'drop', text: 'partial' })
  const dropped = (await collect(p.stream(request())).catch((e: unknown) => e)) as ProviderError
  t.type(dropped, ProviderError)
  t.equal(dropped.reason, 'provider_unavailable')

  // A hanging provider is cut by the caller's signal, and the HTTP stream is closed.
  fake.queue.push({ kind: 'hang' })
  const ctl = new AbortController()
  const timeout = new Error('call timeout')
  setTimeout(() => ctl.abort(timeout), 50)
  const hung = await collect(p.stream(request({ signal: ctl.signal }))).catch((e: unknown) => e)
  t.equal(hung, timeout, 'the abort reason comes back as is')
  const rec = await fake.ended(5)
  t.ok(rec.aborted, 'the provider saw the connection close')

  const down = new OpenAiCompatibleProvider({ id: 'down', baseUrl: 'http://127.0.0.1:9/v1', models: ['m'], apiKey: key })
  const refused = (await collect(down.stream(request())).catch((e: unknown) => e)) as ProviderError
  t.equal(refused.reason, 'provider_unavailable')
  t.match(refused.message, /unreachable/)
})

test('provider registry: ops configuration, keys from files, no secrets in errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'agents-keys-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const keyFile = join(dir, 'key')
  writeFileSync(keyFile, 'sk-from-file-123\n')
  const reg = new ProviderRegistry({
    providersJson: JSON.stringify([
      { id: 'openai', kind: 'openai-compatible', baseUrl: 'https://api.example.com/v1', apiKeyFile: keyFile, models: ['gpt-4o-mini'] }
    ]),
    local: true,
    localTokenDelayMs: 0,
    defaultProvider: 'local'
  })
  t.same(
    reg.list().map((p) => p.id),
    ['local', 'openai']
  )
  t.equal(reg.redact('oops sk-from-file-123 leaked'), 'oops [redacted] leaked')

  const bad =
    (json: unknown, def = 'local') =>
    () =>
      new ProviderRegistry({ providersJson: typeof json === 'string' ? json : JSON.stringify(json), local: true, localTokenDelayMs: 0, defaultProvider: def })
  t.throws(bad('{nope'), ConfigError)
  const inline = (() => {
    try {
      bad([{ id: 'x', kind: 'openai-compatible', baseUrl: 'https://a.example', apiKey: 'sk-INLINE-SECRET', apiKeyFile: keyFile, models: ['m'] }])()
    } catch (e) {
      return e as Error
    }
  })()
  t.type(inline, ConfigError, 'an inline apiKey is refused')
  t.match(inline!.message, /keys are only read from apiKeyFile/)
  t.notMatch(inline!.message, 'sk-INLINE-SECRET', 'and not echoed')
  t.throws(bad([{ id: 'x', kind: 'openai-compatible', baseUrl: 'https://user:pw@a.example', apiKeyFile: keyFile, models: ['m'] }]), /credentials/)
  t.throws(bad([{ id: 'x', kind: 'openai-compatible', baseUrl: 'file:///etc/passwd', apiKeyFile: keyFile, models: ['m'] }]), /http/)
  t.throws(bad([{ id: 'x', kind: 'openai-compatible', baseUrl: 'https://a.example', apiKeyFile: join(dir, 'missing'), models: ['m'] }]), /ENOENT/)
  t.throws(bad([], 'openai'), /AGENTS_DEFAULT_PROVIDER/)
})

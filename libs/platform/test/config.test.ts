import { test } from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Type } from 'typebox'
import { BaseConfigSchema, completeConfig, ConfigError, loadConfig } from '../src/index.js'

test('reads variables, applies defaults and converts types', async (t) => {
  const c = loadConfig(BaseConfigSchema, { DATABASE_URL: 'postgres://x@h/db', PORT: '3001' })
  t.equal(c.PORT, 3001)
  t.equal(c.HOST, '127.0.0.1')
  t.equal(c.NATS_URL, 'nats://127.0.0.1:4222')
})

test('names the missing or invalid variable', async (t) => {
  t.throws(() => loadConfig(BaseConfigSchema, {}), new ConfigError('DATABASE_URL is required'))
  t.throws(() => loadConfig(BaseConfigSchema, { DATABASE_URL: 'postgres://h/d', PORT: 'eighty' }), /PORT is invalid/)
  t.throws(() => loadConfig(BaseConfigSchema, { DATABASE_URL: 'mysql://h/d' }), /DATABASE_URL is invalid/)
})

test('never echoes a secret value in its error', async (t) => {
  try {
    loadConfig(BaseConfigSchema, { DATABASE_URL: 'mysql://user:hunter2@h/d' })
    t.fail('should throw')
  } catch (err) {
    t.notMatch((err as Error).message, /hunter2/)
  }
})

test('secrets come from *_FILE', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cfg-'))
  const f = join(dir, 'db')
  writeFileSync(f, 'postgres://svc:s3cret@db/palisade\n')
  const c = loadConfig(BaseConfigSchema, { DATABASE_URL_FILE: f })
  t.equal(c.DATABASE_URL, 'postgres://svc:s3cret@db/palisade')
  t.throws(() => loadConfig(BaseConfigSchema, { DATABASE_URL_FILE: join(dir, 'missing') }), /DATABASE_URL_FILE: cannot read/)
  t.throws(() => loadConfig(BaseConfigSchema, { DATABASE_URL_FILE: f, DATABASE_URL: 'postgres://a/b' }), /both set/)
})

test('completeConfig fills the schema defaults into a config built in code, and checks it', async (t) => {
  const Schema = Type.Object({ ...BaseConfigSchema.properties, EXTRA_LIMIT: Type.Integer({ minimum: 1, default: 7 }) })
  const given = { DATABASE_URL: 'postgres://h/d', PORT: 3001 }
  const c = completeConfig(Schema, given)
  t.equal(c.EXTRA_LIMIT, 7)
  t.equal(c.PORT, 3001)
  t.equal(c.HOST, '127.0.0.1')
  t.same(given, { DATABASE_URL: 'postgres://h/d', PORT: 3001 }, 'the input is left as it was')
  t.same(
    completeConfig(Schema, { DATABASE_URL: 'postgres://h/d' }),
    loadConfig(Schema, { DATABASE_URL: 'postgres://h/d' }),
    'the same defaults as from the environment'
  )
  t.throws(() => completeConfig(Schema, { DATABASE_URL: 'postgres://h/d', EXTRA_LIMIT: 0 }), /EXTRA_LIMIT is invalid/)
})

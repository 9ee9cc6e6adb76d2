// Unit-level rules of the second factors (no database, no NATS).
import { test } from 'tap'
import { randomBytes } from 'node:crypto'
import { loadMfaKey, webauthnParty, type AuthConfig } from '../src/config.js'
import { deriveMfaKeys, hashRecoveryCode, openSecret, sealSecret } from '../src/lib/mfa-keys.js'
import { normaliseRecoveryCode } from '../src/lib/recovery-codes.js'

const cfg = (over: Partial<AuthConfig>) => ({ NODE_ENV: 'test', AUTH_WEBAUTHN_ORIGIN: 'http://localhost:8080', ...over }) as AuthConfig

test('sealed TOTP secrets open only with their key and their owner', async (t) => {
  const keys = deriveMfaKeys(randomBytes(32))
  const box = sealSecret(keys, 'JBSWY3DPEHPK3PXP', 'user-a')
  t.notMatch(box, /JBSWY3DPEHPK3PXP/)
  t.equal(openSecret(keys, box, 'user-a'), 'JBSWY3DPEHPK3PXP')
  t.not(sealSecret(keys, 'JBSWY3DPEHPK3PXP', 'user-a'), box, 'a fresh IV each time')
  t.throws(() => openSecret(keys, box, 'user-b'), 'a box copied to another user does not open')
  t.throws(() => openSecret(deriveMfaKeys(randomBytes(32)), box, 'user-a'), 'another key does not open it')
  const [v, iv, body, tag] = box.split('.')
  const flipped = Buffer.from(body!, 'base64url')
  flipped[0]! ^= 1
  t.throws(() => openSecret(keys, [v, iv, flipped.toString('base64url'), tag].join('.'), 'user-a'), 'tampering is detected')
  t.not(hashRecoveryCode(keys, 'ABCD'), hashRecoveryCode(deriveMfaKeys(randomBytes(32)), 'ABCD'), 'recovery hashes are keyed')
  t.not(keys.seal.toString('hex'), keys.codes.toString('hex'), 'separate subkeys per use')
})

test('recovery codes: case, spaces, dashes and look-alike letters are forgiven', async (t) => {
  t.equal(normaliseRecoveryCode(' abcd-efgh-jk0o '), 'ABCDEFGHJK00')
  t.equal(normaliseRecoveryCode('1il1-0000-0000'), '111100000000')
})

test('AUTH_MFA_KEY is required in production; WebAuthn origin and RP id are checked at start', async (t) => {
  t.throws(() => loadMfaKey(cfg({ NODE_ENV: 'production' }), () => {}), /AUTH_MFA_KEY/)
  let warned = ''
  t.equal(loadMfaKey(cfg({}), (m) => (warned = m)).length, 32)
  t.match(warned, /ephemeral/)
  t.same(
    loadMfaKey(cfg({ AUTH_MFA_KEY: 'ab'.repeat(32) }), () => {}),
    Buffer.from('ab'.repeat(32), 'hex')
  )

  t.same(webauthnParty(cfg({})), { rpId: 'localhost', origin: 'http://localhost:8080' })
  t.same(webauthnParty(cfg({ AUTH_WEBAUTHN_ORIGIN: 'https://chat.example.com', AUTH_WEBAUTHN_RP_ID: 'example.com' })), {
    rpId: 'example.com',
    origin: 'https://chat.example.com'
  })
  t.throws(() => webauthnParty(cfg({ AUTH_WEBAUTHN_ORIGIN: 'https://chat.example.com/app' })), /bare origin/)
  t.throws(() => webauthnParty(cfg({ AUTH_WEBAUTHN_ORIGIN: 'not a url' })), /not a URL/)
  t.throws(() => webauthnParty(cfg({ AUTH_WEBAUTHN_ORIGIN: 'https://chat.example.com', AUTH_WEBAUTHN_RP_ID: 'example.org' })), /does not cover/)
  t.throws(() => webauthnParty(cfg({ AUTH_WEBAUTHN_ORIGIN: 'https://badexample.com', AUTH_WEBAUTHN_RP_ID: 'example.com' })), /does not cover/)
})

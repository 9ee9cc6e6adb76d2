import { test } from 'tap'
import { normalizeRequestPath } from '@palisade/contracts'
import { accessCookie, requestPath } from '../src/routes/verify.js'

test('the fast path for request paths agrees with normalizeRequestPath', async (t) => {
  const corpus = [
    '/api/chat/conversations', '/api/chat/conversations?limit=5&x=//y', '/', '/ws', '/api/files/abc-DEF_1~2',
    '/api//chat', '//api/chat', '/api/chat/', '/api/chat/../files', '/api/chat/./x', '/api/%2e%2e/x', '/api/chat%2fx',
    '/api/chat\\x', '/api/chat/x#frag', '/api/chat/x?#', 'api/chat', '', '/a b', '/api/chat/%41', '/api/\u0000',
    '/' + 'a'.repeat(9000), '/a?' + 'q'.repeat(9000), '/api/chat/x.json', '/api/chat/..', '/api/chat/...'
  ]
  for (const uri of corpus) t.equal(requestPath(uri), normalizeRequestPath(uri), JSON.stringify(uri.slice(0, 40)))
})

test('the access cookie is read only as a whole cookie, and only once', async (t) => {
  t.equal(accessCookie('palisade_access=abc'), 'abc')
  t.equal(accessCookie('a=1; palisade_access=abc; b=2'), 'abc')
  t.equal(accessCookie('a=1;palisade_access=abc'), 'abc')
  t.equal(accessCookie('xpalisade_access=evil'), undefined, 'a longer name that ends the same is another cookie')
  t.equal(accessCookie('xpalisade_access=evil; palisade_access=abc'), 'abc')
  t.equal(accessCookie('a=palisade_access=evil'), undefined, 'inside another cookie’s value')
  t.equal(accessCookie('palisade_access=abc; palisade_access=def'), null, 'twice: cookie tossing')
  t.equal(accessCookie('palisade_access='), undefined)
  t.equal(accessCookie(undefined), undefined)
  t.equal(accessCookie(['palisade_access=abc']), undefined)
})

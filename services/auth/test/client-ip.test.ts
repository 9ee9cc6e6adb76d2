import { test } from 'tap'
import { ipLimitKey } from '../src/lib/client-ip.js'

test('address limits count IPv4 addresses and IPv6 /64s', async (t) => {
  t.equal(ipLimitKey('203.0.113.7'), '203.0.113.7')
  t.equal(ipLimitKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64')
  t.equal(ipLimitKey('2001:db8:1:2::1'), '2001:db8:1:2::/64', 'every address of one /64 is one key')
  t.equal(ipLimitKey('2001:0db8:0001:0002::ffff'), '2001:db8:1:2::/64', 'leading zeros do not make a new key')
  t.equal(ipLimitKey('2001:db8::1'), '2001:db8:0:0::/64')
  t.equal(ipLimitKey('::1'), '0:0:0:0::/64')
  t.not(ipLimitKey('2001:db8:1:3::1'), ipLimitKey('2001:db8:1:2::1'), 'another /64 is another key')
})

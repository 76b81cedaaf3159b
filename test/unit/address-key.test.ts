import { describe, expect, it } from 'vitest';

import { addressKey } from '../../src/modules/auth/address-key.js';

describe('addressKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:cb00:7107', '203.0.113.7'],
    ['2001:db8:7:1::1', '2001:db8:7:1::/64'],
    ['2001:0db8:0007:0001:ffff:0000:0000:00ff', '2001:db8:7:1::/64'],
    ['2001:DB8:7:1:ABCD::1', '2001:db8:7:1::/64'],
    ['2001:db8::', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.33', '64:ff9b:0:0::/64'],
    ['internal', 'internal'],
  ])('%s › counts as %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });

  it('two addresses of one /64 › share a key; the neighbouring /64 › does not', () => {
    expect(addressKey('2001:db8:7:1::1')).toBe(addressKey('2001:db8:7:1:dead:beef:1:2'));
    expect(addressKey('2001:db8:7:1::1')).not.toBe(addressKey('2001:db8:7:2::1'));
  });
});

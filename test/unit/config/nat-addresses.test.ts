/** nat-addresses host names resolved as Flexisip resolves them: first address of each entry, one per family at most. */
import assert from 'node:assert/strict';
import { resolveNatAddresses, withNatAddressesResolved, type Lookup } from '../../../core/config/nat-addresses.js';
import { parseConfigText } from '../../../core/config/load.js';

const names: Record<string, string> = { 'v4.example.org': '192.0.2.7', 'v6.example.org': '2001:db8::7', 'other-v4.example.org': '198.51.100.1' };
const lookup: Lookup = (host) => {
  const address = names[host];
  if (!address) return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
  return Promise.resolve({ address, family: address.includes(':') ? 6 : 4 });
};

describe('nat-addresses: host names', () => {
  it('a name becomes its first address; IP addresses stay as written', async () => {
    assert.deepEqual(await resolveNatAddresses(['v4.example.org'], lookup), { addresses: ['192.0.2.7'], problems: [] });
    assert.deepEqual(await resolveNatAddresses(['v6.example.org', '192.0.2.1'], lookup), { addresses: ['2001:db8::7', '192.0.2.1'], problems: [] });
  });

  it('a name that does not resolve, or a second address of a family, is a problem that says what to write', async () => {
    const missing = await resolveNatAddresses(['nowhere.example.org'], lookup);
    assert.deepEqual(missing.addresses, []);
    assert.match(missing.problems[0]!, /nat-addresses: "nowhere.example.org" does not resolve \(ENOTFOUND\); write the host's public IP address/);
    const twice = await resolveNatAddresses(['v4.example.org', 'other-v4.example.org'], lookup);
    assert.deepEqual(twice.addresses, ['192.0.2.7']);
    assert.match(twice.problems[0]!, /"other-v4.example.org" gives a second IPv4 address \(198.51.100.1, after 192.0.2.7\)/);
  });

  it('the configuration seen by the server carries the resolved addresses, frozen; the problems name file and section', async () => {
    const reading = parseConfigText('[b2bua-server]\nnat-addresses=v4.example.org 2001:db8::1\n', 'f.conf');
    assert.deepEqual(reading.problems, []);
    const { config, problems } = await withNatAddressesResolved(reading.config, lookup);
    assert.deepEqual(problems, []);
    assert.deepEqual(config.server.natAddresses, ['192.0.2.7', '2001:db8::1']);
    assert.ok(Object.isFrozen(config.server));
    const bad = await withNatAddressesResolved(parseConfigText('[b2bua-server]\nnat-addresses=nowhere.example.org\n', 'f.conf').config, lookup);
    assert.match(bad.problems[0]!, /^f\.conf \[b2bua-server\] nat-addresses: "nowhere.example.org" does not resolve/);
  });

  it('localhost resolves through the system resolver (no network: /etc/hosts)', async () => {
    const { addresses, problems } = await resolveNatAddresses(['localhost']);
    assert.deepEqual(problems, []);
    assert.match(addresses[0]!, /^(127\.0\.0\.1|::1)$/);
  });
});

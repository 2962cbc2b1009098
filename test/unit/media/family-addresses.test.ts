import assert from 'node:assert/strict';
import dns from 'node:dns/promises';
import { familyAddresses, ipFamily, mediaDualStack, transportHosts } from '../../../core/media/addresses.js';
import { legFamilies } from '../../../core/b2bua/leg-families.js';
import { FORMATS } from '../../../core/config/formats.js';
import { parseListenUris } from '../../../core/b2bua/listen.js';

const cfg = (transport: string, mediaAddress = ''): { transport: string; mediaAddress: string; natAddresses: string[] } => ({ transport, mediaAddress, natAddresses: [] });

describe('media addresses per IP family (one IPv4 and one IPv6 leg in a call)', () => {
  it('the default family is media-address\'s; the other family takes the transport host of that family', () => {
    const a = familyAddresses(cfg('sip:127.0.0.1:6067;transport=udp sip:[::1]:6067;transport=udp', '127.0.0.5'));
    assert.equal(a.defaultFamily, 4);
    assert.deepEqual(a.forFamily(4), { bind: '127.0.0.5', advertised: '127.0.0.5' });
    assert.deepEqual(a.forFamily(6), { bind: '::1', advertised: '::1' });
    assert.deepEqual(a.forFamily(undefined), { bind: '127.0.0.5', advertised: '127.0.0.5' });
  });
  it('without media-address: the first transport host is the default, the other family\'s host serves its legs', () => {
    const a = familyAddresses(cfg('sip:[::1]:6067;transport=udp sip:127.0.0.1:6067;transport=udp'));
    assert.equal(a.defaultFamily, 6);
    assert.deepEqual(a.forFamily(6), { bind: '::1', advertised: '::1' });
    assert.deepEqual(a.forFamily(4), { bind: '127.0.0.1', advertised: '127.0.0.1' });
  });
  it('one family only: a leg of the other family gets the default addresses (as before)', () => {
    const a = familyAddresses(cfg('sip:127.0.0.1:6067;transport=tcp'));
    assert.deepEqual(a.forFamily(6), { bind: '127.0.0.1', advertised: '127.0.0.1' });
  });
  it('transport hosts: IP literals only, in order', () => {
    assert.deepEqual(transportHosts('sip:b2b.example.org:5060 sip:[2001:db8::1]:5060;transport=udp  sips:192.0.2.1'), ['2001:db8::1', '192.0.2.1']);
  });
  it('a leg\'s family: leg A from its INVITE\'s source (v4-mapped = IPv4), leg B from its destination', async () => {
    const dual = cfg('sip:127.0.0.1:6067;transport=udp sip:[::1]:6067;transport=udp');
    assert.deepEqual(await legFamilies(dual, '::1', 'sip:127.0.0.1:5060;transport=udp'), { a: 6, b: 4 });
    assert.deepEqual(await legFamilies(dual, '::ffff:127.0.0.1', 'sip:[::1]:5060'), { a: 4, b: 6 });
    assert.deepEqual(await legFamilies(dual, '127.0.0.1', 'sip:bob@nowhere.invalid'), { a: 4, b: undefined });
  });
  it('one media family: leg B\'s destination is not resolved (no DNS lookup a call); two families: one lookup', async () => {
    const lookup = dns.lookup;
    const asked: string[] = [];
    (dns as { lookup: unknown }).lookup = (host: string) => { asked.push(host); return Promise.resolve({ address: '127.0.0.1', family: 4 }); };
    try {
      assert.deepEqual(await legFamilies(cfg('sip:127.0.0.1:6067;transport=udp'), '127.0.0.1', 'sip:bob@provider.example.net'), { a: 4, b: undefined });
      assert.deepEqual(await legFamilies(cfg('sip:0.0.0.0:6067 sip:[::]:6067'), '127.0.0.1', 'sip:bob@provider.example.net'), { a: 4, b: undefined }, 'wildcards: one media family');
      assert.deepEqual(asked, []);
      assert.deepEqual(await legFamilies(cfg('sip:127.0.0.1:6067 sip:[::1]:6067'), '127.0.0.1', 'sip:bob@provider.example.net'), { a: 4, b: 4 });
      assert.deepEqual(asked, ['provider.example.net']);
    } finally { (dns as { lookup: unknown }).lookup = lookup; }
  });
  it('one family helper: v4-mapped is IPv4 (leg A on a dual-stack socket, media-address), names are no family', () => {
    assert.equal(ipFamily('::ffff:192.0.2.1'), 4);
    assert.equal(ipFamily('2001:db8::1'), 6);
    assert.equal(ipFamily('::'), 6);
    assert.equal(ipFamily('0.0.0.0'), 4);
    assert.equal(ipFamily('b2b.example.org'), undefined);
    assert.equal(familyAddresses(cfg('sip:127.0.0.1:6067', '::ffff:127.0.0.5')).defaultFamily, 4);
    assert.equal(mediaDualStack(cfg('sip:127.0.0.1:6067 sip:[::1]:6067')), true);
    assert.equal(mediaDualStack(cfg('sip:127.0.0.1:6067')), false);
  });
  it('transport may list several listening URIs, each checked', () => {
    assert.equal(FORMATS['sip-listen-uri']!('sip:127.0.0.1:6067;transport=udp sip:[::1]:6067;transport=udp'), undefined);
    assert.match(FORMATS['sip-listen-uri']!('sip:127.0.0.1:6067 sip:u@[::1]:6067') ?? '', /no user part/);
    assert.deepEqual(parseListenUris('sip:127.0.0.1:6067;transport=udp sip:[::1]:6068;transport=tcp').map((s) => [s.host, s.port, s.protocol]),
      [['127.0.0.1', 6067, 'udp'], ['::1', 6068, 'tcp']]);
  });
});

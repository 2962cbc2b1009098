import { strict as assert } from 'node:assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPools } from '../../../plugins/sip-bridge/accounts.js';
import type { AccountPool } from '../../../plugins/sip-bridge/accounts.js';
import type { BridgeConfig } from '../../../plugins/sip-bridge/bridge-config.js';
import { loadBridgeConfig } from '../../../plugins/sip-bridge/load.js';
import { routeCall } from '../../../plugins/sip-bridge/routing.js';
import { parseSipAddress } from '../../../plugins/sip-bridge/sip-uri.js';
import type { CallAddresses } from '../../../plugins/sip-bridge/template.js';
import { configOf } from './fakes.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/sip-bridge');

function call(from: string, to: string, requestUri = parseSipAddress(to).uri): CallAddresses {
  return { from: parseSipAddress(from), to: parseSipAddress(to), requestUri: parseSipAddress(requestUri) };
}

function registerAll(pools: Map<string, AccountPool>): void {
  for (const pool of pools.values()) for (const line of pool.lines) line.registration = { state: 'registered' };
}

describe('sip-bridge routing (fixture providers-v2.json)', () => {
  let config: BridgeConfig;
  let pools: Map<string, AccountPool>;

  beforeEach(async () => {
    const loaded = await loadBridgeConfig('providers-v2.json', FIXTURES);
    assert.ok(loaded.ok);
    config = loaded.value;
    pools = buildPools(config.pools);
    registerAll(pools);
  });

  it('inbound: FindInPool by uri with source {to}, To = account alias, From kept, provider outbound proxy', () => {
    const d = routeCall(config.providers, pools, call('"Carrier" <sip:+33612@trunk.example.net>', '<sip:line2@trunk.example.net>'));
    assert.equal(d.kind, 'route');
    assert.equal(d.provider.name, 'Inbound from trunk');
    assert.equal(d.line.uri, 'sip:line2@trunk.example.net');
    assert.deepEqual(d.target, {
      requestUri: 'sip:bob@internal.example.org', to: 'sip:bob@internal.example.org',
      from: 'sip:+33612@trunk.example.net', outboundProxy: 'sip:127.0.0.1:5060;transport=tcp', credentials: undefined,
    });
  });

  it('outbound: FindInPool by {alias} with {from}; To keeps the Request-URI user and parameters on the account host', () => {
    const d = routeCall(
      config.providers, pools,
      call('"Alice" <sip:alice@internal.example.org>', 'sip:0612345678@internal.example.org', 'sip:0612345678@internal.example.org;user=phone'),
    );
    assert.equal(d.kind, 'route');
    assert.equal(d.provider.name, 'Outbound to trunk');
    assert.equal(d.line.uri, 'sip:line1@trunk.example.net');
    assert.equal(d.target.to, 'sip:0612345678@trunk.example.net;user=phone');
    assert.equal(d.target.requestUri, 'sip:0612345678@trunk.example.net;user=phone');
    assert.equal(d.target.from, 'sip:line1@trunk.example.net', 'From defaults to {account.uri}');
    assert.equal(d.target.outboundProxy, 'sip:trunk.example.net;transport=udp', 'pool outbound proxy');
    assert.deepEqual(d.target.credentials, { username: 'line1', password: 'pw1' }, 'the account answers INVITE challenges');
  });

  it('onAccountNotFound nextProvider falls through to the next provider', () => {
    // matches "Outbound to trunk" trigger but carol has no alias in the trunk pool: next provider (Random on shared)
    const d = routeCall(config.providers, pools, call('sip:carol@internal.example.org', 'sip:0611@internal.example.org'), () => 0);
    assert.equal(d.kind, 'route');
    assert.equal(d.provider.name, 'Shared lines');
    assert.equal(d.line.uri, 'sip:shared1@shared.example.net');
    assert.equal(d.target.from, '<sip:shared1@shared.example.net>', 'no display name: {incoming.from.displayName} renders empty');
  });

  it('a trigger that does not match skips the provider (regex is whole-string)', () => {
    // "sip:0612@x.org;user=phone" would match sip:\+?[0-9]+@.* ; "sip:bob@x.org" does not
    const d = routeCall(config.providers, pools, call('"Al" <sip:alice@internal.example.org>', 'sip:bob@x.org'), () => 0.99);
    assert.equal(d.kind, 'route');
    assert.equal(d.provider.name, 'Shared lines');
    assert.equal(d.line.uri, 'sip:shared3@shared.example.net', 'random start at the last account');
    assert.equal(d.target.from, '"Al" <sip:shared3@shared.example.net>');
  });

  it('Random: random start, then the first available account going round', () => {
    const shared = pools.get('shared')!;
    const [l1, l2, l3] = shared.lines;
    const held = [l3!.takeSlot()];
    let d = routeCall(config.providers, pools, call('sip:z@x', 'sip:bob@x.org'), () => 0.99);
    assert.equal(d.kind === 'route' && d.line, l1);
    held.push(l1!.takeSlot());
    d = routeCall(config.providers, pools, call('sip:z@x', 'sip:bob@x.org'), () => 0.99);
    assert.equal(d.kind === 'route' && d.line, l2);
    held.push(l2!.takeSlot());
    d = routeCall(config.providers, pools, call('sip:z@x', 'sip:bob@x.org'), () => 0.5);
    assert.deepEqual(d, { kind: 'reject', status: 488, why: 'provider "Shared lines": no account available in pool "shared" (onAccountNotFound: decline)' });
    held[1]!.release();
    d = routeCall(config.providers, pools, call('sip:z@x', 'sip:bob@x.org'), () => 0.5);
    assert.equal(d.kind === 'route' && d.line, l1);
  });

  it('the chosen account busy (all slots) → 488, even with nextProvider', () => {
    const line2 = pools.get('trunk')!.lines[1]!;
    const slots = [line2.takeSlot(), line2.takeSlot()];
    const d = routeCall(config.providers, pools, call('sip:+33612@trunk.example.net', 'sip:line2@trunk.example.net'));
    assert.deepEqual(d, { kind: 'reject', status: 488, why: 'provider "Inbound from trunk": account sip:line2@trunk.example.net is not available (all 2 slots busy)' });
    slots[0]!.release();
    slots[0]!.release(); // releasing twice frees one slot only
    assert.equal(line2.freeSlots, 1);
    assert.equal(routeCall(config.providers, pools, call('sip:+33612@trunk.example.net', 'sip:line2@trunk.example.net')).kind, 'route');
  });

  it('an account of a pool requiring registration is unavailable until registered', () => {
    const line1 = pools.get('trunk')!.lines[0]!;
    for (const state of ['none', 'registering', 'failed', 'unregistered'] as const) {
      line1.registration = { state };
      const d = routeCall(config.providers, pools, call('sip:alice@internal.example.org', 'sip:0612@internal.example.org'));
      assert.deepEqual(d, { kind: 'reject', status: 488, why: `provider "Outbound to trunk": account sip:line1@trunk.example.net is not available (registration ${state})` });
    }
  });

  it('nothing matched → 488', () => {
    const c = configOf({
      schemaVersion: 2,
      providers: [{
        name: 'only', accountPool: 'p', triggerCondition: { strategy: 'MatchRegex', pattern: 'sip:.*@never' },
        accountToUse: { strategy: 'Random' }, onAccountNotFound: 'nextProvider', outgoingInvite: { to: '{incoming.to}' },
      }],
      accountPools: { p: { registrationRequired: false, maxCallsPerLine: 1, loader: [{ uri: 'sip:a@b' }] } },
    });
    assert.deepEqual(routeCall(c.providers, buildPools(c.pools), call('sip:a@b', 'sip:x@y')), { kind: 'reject', status: 488, why: 'no provider matched the call' });
  });

  it('maxCallsPerLine 0 never routes; an empty pool finds nothing', () => {
    const c = configOf({
      schemaVersion: 2,
      providers: [
        { name: 'zero', accountPool: 'z', triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' }, onAccountNotFound: 'nextProvider', outgoingInvite: { to: '{incoming.to}' } },
        { name: 'empty', accountPool: 'e', triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' }, onAccountNotFound: 'decline', outgoingInvite: { to: '{incoming.to}' } },
      ],
      accountPools: {
        z: { registrationRequired: false, maxCallsPerLine: 0, loader: [{ uri: 'sip:a@b' }] },
        e: { registrationRequired: false, maxCallsPerLine: 5, loader: [] },
      },
    });
    const d = routeCall(c.providers, buildPools(c.pools), call('sip:a@b', 'sip:x@y'));
    assert.deepEqual(d, { kind: 'reject', status: 488, why: 'provider "empty": no account available in pool "e" (onAccountNotFound: decline)' });
  });

  it('a To template that renders an invalid URI rejects instead of sending garbage', () => {
    const c = configOf({
      schemaVersion: 2,
      providers: [{ name: 'p', accountPool: 'p', triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' }, onAccountNotFound: 'decline', outgoingInvite: { to: '{account.alias}' } }],
      accountPools: { p: { registrationRequired: false, maxCallsPerLine: 1, loader: [{ uri: 'sip:a@b' }] } },
    });
    assert.deepEqual(routeCall(c.providers, buildPools(c.pools), call('sip:a@b', 'sip:x@y')), {
      kind: 'reject', status: 488, why: 'provider "p": outgoingInvite.to rendered "", not a SIP URI',
    });
  });

  it('v1 providers: pattern on the Request-URI, Random, decline, Flexisip To', async () => {
    const loaded = await loadBridgeConfig('providers-v1.json', FIXTURES);
    assert.ok(loaded.ok);
    const p = buildPools(loaded.value.pools);
    registerAll(p);
    const d = routeCall(loaded.value.providers, p, call('sip:alice@here', 'sip:someone@here', 'sip:+33123@here;user=phone'), () => 0);
    assert.equal(d.kind, 'route');
    assert.equal(d.provider.name, 'Legacy provider');
    assert.equal(d.target.to, 'sip:+33123@legacy.example.net;user=phone');
    assert.equal(d.target.outboundProxy, 'sip:legacy.example.net;transport=tcp');
    assert.equal(d.provider.mediaEncryption, 'zrtp');
    const other = routeCall(loaded.value.providers, p, call('sip:alice@here', 'sip:x@here', 'sip:4412@here'), () => 0);
    assert.equal(other.kind === 'route' && other.provider.name, 'Catch-all');
  });
});

describe('sip-bridge SIP address parsing', () => {
  it('splits name-addr, user, hostport, parameters and drops URI headers', () => {
    assert.deepEqual(parseSipAddress('"Bob \\"B\\"" <sips:bob:pw@[::1]:5061;transport=tls;gr=x?Subject=hi>;tag=9'), {
      uri: 'sips:bob:pw@[::1]:5061;transport=tls;gr=x?Subject=hi', scheme: 'sips', user: 'bob', hostport: '[::1]:5061', host: '[::1]',
      uriParameters: ';transport=tls;gr=x', displayName: 'Bob "B"',
    });
    assert.deepEqual(parseSipAddress('sip:example.org'), {
      uri: 'sip:example.org', scheme: 'sip', user: '', hostport: 'example.org', host: 'example.org', uriParameters: '', displayName: '',
    });
  });
});

describe('sip-bridge Random account choice (statistics)', () => {
  it('spreads 3,000 choices over 3 available lines within ±10 % of 1,000 each (Math.random; ±100 is about 4 standard deviations)', async () => {
    const loaded = await loadBridgeConfig('providers-v2.json', FIXTURES);
    assert.ok(loaded.ok);
    const pools = buildPools(loaded.value.pools);
    const shared = pools.get('shared')!;
    const counts = new Map(shared.lines.map((l) => [l, 0]));
    for (let i = 0; i < 3000; i++) {
      const line = shared.pickAvailable(Math.random);
      assert.ok(line, 'every line is available');
      counts.set(line, counts.get(line)! + 1);
    }
    assert.equal(counts.size, 3);
    for (const [line, n] of counts) assert.ok(Math.abs(n - 1000) <= 100, `${line.uri} chosen ${n} times out of 3000: ${JSON.stringify([...counts.values()])}`);
  });
});

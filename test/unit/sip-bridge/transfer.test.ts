/**
 * sip-bridge transfers (plugins/sip-bridge/transfer.ts): the Refer-To rendered as Flexisip's ReferTweaker does, with the
 * providers of Flexisip's call-transfer-tester.cc (an Outbound / Inbound pair over one pool of internal users' lines).
 */
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TransferRequest } from '../../../core/plugin-api/index.js';
import { buildPools } from '../../../plugins/sip-bridge/accounts.js';
import type { AccountPool } from '../../../plugins/sip-bridge/accounts.js';
import type { BridgeConfig } from '../../../plugins/sip-bridge/bridge-config.js';
import { startSipBridge } from '../../../plugins/sip-bridge/index.js';
import type { SipBridgeOptions } from '../../../plugins/sip-bridge/index.js';
import { parseSipAddress } from '../../../plugins/sip-bridge/sip-uri.js';
import { transferTarget } from '../../../plugins/sip-bridge/transfer.js';
import type { TransferAddresses } from '../../../plugins/sip-bridge/transfer.js';
import { providerPair } from '../../harness/sip-bridge-providers.js';
import { ManualTimers, configOf, fakeHost, incomingCall } from './fakes.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/sip-bridge');
const INTERNAL = 'flexisip.example.org';
const EXTERNAL = 'jabiru.example.org';

function providers(extra: object[] = []): unknown {
  return {
    schemaVersion: 2,
    providers: [...extra, ...providerPair({ internal: 'Flexisip', external: 'Jabiru' }, 'FlockOfJabirus', '<sip:127.0.0.1:5060;transport=tcp>')],
    accountPools: {
      FlockOfJabirus: {
        outboundProxy: '<sip:127.0.0.1:5070;transport=tcp>',
        registrationRequired: true,
        maxCallsPerLine: 10,
        loader: ['transferor', 'transferTarget'].map((u) => ({ uri: `sip:${u}@${EXTERNAL}`, alias: `sip:${u}@${INTERNAL}` })),
      },
    },
  };
}

function fields(referTo: string, remote: string, requestUri: string): TransferAddresses {
  return { to: parseSipAddress(referTo), from: parseSipAddress(remote), requestUri: parseSipAddress(requestUri) };
}

describe('sip-bridge transfers: the Refer-To in the other side\'s form', () => {
  let config: BridgeConfig;
  let pools: Map<string, AccountPool>;
  beforeEach(() => {
    config = configOf(providers());
    pools = buildPools(config.pools);
  });

  it('a REFER from the external side (transferor on Jabiru) to a Jabiru number of an internal user → that user\'s alias (Inbound)', () => {
    // leg towards Jabiru: its far end is the transferor as Jabiru knows it
    const d = transferTarget(config.providers, pools, fields(`<sip:transferTarget@${EXTERNAL}>`, `<sip:transferor@${EXTERNAL}>`, `sip:transferor@${EXTERNAL}`));
    assert.equal(d.kind, 'rewrite', JSON.stringify(d));
    assert.equal(d.provider.name, 'Jabiru -> Flexisip (Inbound)');
    assert.equal(d.line.uri, `sip:transferTarget@${EXTERNAL}`);
    assert.equal(d.uri, `sip:transferTarget@${INTERNAL}`);
    assert.equal(d.displayName, undefined);
  });

  it('a REFER from the internal side (transferor an alias) → the target on the account\'s host, URI parameters kept (Outbound)', () => {
    const d = transferTarget(config.providers, pools, fields(`"Target" <sip:0612345678@${INTERNAL};user=phone>`, `<sip:transferor@${INTERNAL}>`, `sip:transferor@${INTERNAL}`));
    assert.equal(d.kind, 'rewrite', JSON.stringify(d));
    assert.equal(d.provider.name, 'Flexisip -> Jabiru (Outbound)');
    assert.equal(d.line.uri, `sip:transferor@${EXTERNAL}`);
    assert.equal(d.uri, `sip:0612345678@${EXTERNAL};user=phone`);
  });

  it('no provider finds an account (an unknown transferor, a target that is nobody\'s line) → kept', () => {
    const d = transferTarget(config.providers, pools, fields(`<sip:stranger@${EXTERNAL}>`, `<sip:someone@${EXTERNAL}>`, `sip:someone@${EXTERNAL}`));
    assert.deepEqual(d, { kind: 'keep', why: 'no provider matched the transfer' });
  });

  it('the account\'s availability does not matter (Flexisip only looks the account up)', () => {
    for (const pool of pools.values()) for (const line of pool.lines) line.registration = { state: 'failed', reason: '403' };
    const d = transferTarget(config.providers, pools, fields(`<sip:transferTarget@${EXTERNAL}>`, `<sip:x@${EXTERNAL}>`, `sip:x@${EXTERNAL}`));
    assert.equal(d.kind === 'rewrite' && d.uri, `sip:transferTarget@${INTERNAL}`);
  });

  it('a MatchRegex trigger reads the referring leg\'s Request-URI; the first matching provider with an account wins', () => {
    const first = {
      name: 'Numbers only',
      triggerCondition: { strategy: 'MatchRegex', pattern: 'sip:\\+[0-9]+@.*' },
      accountToUse: { strategy: 'FindInPool', source: '{to}', by: 'uri' },
      onAccountNotFound: 'decline',
      outgoingInvite: { to: '"Desk" <sip:desk@{account.alias.hostport}>' },
      accountPool: 'FlockOfJabirus',
    };
    config = configOf(providers([first]));
    pools = buildPools(config.pools);
    const referTo = `<sip:transferTarget@${EXTERNAL}>`;
    const matching = transferTarget(config.providers, pools, fields(referTo, '<sip:a@x>', `sip:+3312@${EXTERNAL}`));
    assert.equal(matching.kind === 'rewrite' && matching.provider.name, 'Numbers only');
    assert.equal(matching.kind === 'rewrite' && `${matching.displayName} ${matching.uri}`, `Desk sip:desk@${INTERNAL}`);
    const other = transferTarget(config.providers, pools, fields(referTo, '<sip:a@x>', `sip:bob@${EXTERNAL}`));
    assert.equal(other.kind === 'rewrite' && other.provider.name, 'Jabiru -> Flexisip (Inbound)');
  });

  it('a template rendering no SIP URI keeps the Refer-To and says why', () => {
    const broken = {
      name: 'Broken',
      triggerCondition: { strategy: 'Always' },
      accountToUse: { strategy: 'Random' },
      onAccountNotFound: 'decline',
      outgoingInvite: { to: '{incoming.to.user}' },
      accountPool: 'FlockOfJabirus',
    };
    config = configOf(providers([broken]));
    pools = buildPools(config.pools);
    for (const pool of pools.values()) for (const line of pool.lines) line.registration = { state: 'registered' };
    const d = transferTarget(config.providers, pools, fields(`<sip:target@${EXTERNAL}>`, '<sip:a@x>', 'sip:a@x'), () => 0);
    assert.equal(d.kind, 'keep');
    assert.match(d.kind === 'keep' ? d.why : '', /provider "Broken": outgoingInvite.to rendered "target", not a SIP URI/);
  });
});

describe('sip-bridge transfers: the transferTarget tap (fixture providers-v2.json)', () => {
  it('rewrites a trunk number of a line to its alias; anything else falls to the Always + Random provider, as with Flexisip', async () => {
    const host = fakeHost<SipBridgeOptions>({ providers: 'providers-v2.json' }, FIXTURES);
    await startSipBridge(host, { timers: new ManualTimers(), random: () => 0 });
    try {
      const call = incomingCall('sip:+33612@trunk.example.net', 'sip:line1@trunk.example.net', 'sip:line1@trunk.example.net');
      const request = (referTo: string): TransferRequest => ({
        call, leg: 'a', legRequestUri: 'sip:line1@trunk.example.net', legRemote: { uri: 'sip:+33612@trunk.example.net', params: {} },
        referTo: { uri: referTo, params: {} }, referredBy: undefined,
      });
      // "Inbound from trunk": its Request-URI trigger matches, FindInPool by uri with {to} = the Refer-To finds line2
      const known = await host.hooks.transferTarget.promise({ uri: 'sip:line2@trunk.example.net', displayName: 'Bob' }, request('sip:line2@trunk.example.net'));
      assert.deepEqual(known, { uri: 'sip:bob@internal.example.org', displayName: 'Bob' });
      // "Shared lines" (Always, Random): sip:{incoming.to.user}@{account.uri.hostport} with the first available shared line
      const other = await host.hooks.transferTarget.promise({ uri: 'sip:+33699@elsewhere.example.com', displayName: undefined }, request('sip:+33699@elsewhere.example.com'));
      assert.deepEqual(other, { uri: 'sip:+33699@shared.example.net', displayName: undefined });
    } finally {
      await host.hooks.shutdown.promise();
    }
  });
});

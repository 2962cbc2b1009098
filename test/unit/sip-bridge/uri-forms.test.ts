/**
 * The SIP URI forms of the providers file's outboundProxy / registrar fields, as Flexisip 2.5 takes them:
 * `sip:…`, `<sip:…>` (its documentation and tester), and on an account `host[:port]` with the account's `protocol`
 * (Account::makeUriFromParameter, configuration/v2/account.hh:194-202). For each form: --check-config's verdict
 * (plugin.validate) and what the running plugin hands the host for the REGISTER and the INVITE, resolved by the
 * host's own resolver (core/sip/resolve.ts, what the stack sends to: protocol, address, port).
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startSipBridge } from '../../../plugins/sip-bridge/index.js';
import type { SipBridgeOptions } from '../../../plugins/sip-bridge/index.js';
import { loadBridgeConfig } from '../../../plugins/sip-bridge/load.js';
import type { LegBTarget, Logger } from '../../../core/plugin-api/index.js';
import { resolveTarget } from '../../../core/sip/resolve.js';
import { FakeSip, ManualTimers, fakeHost, incomingCall, silentLog, validated } from './fakes.js';

type Json = Record<string, unknown>;

interface Form {
  readonly name: string;
  readonly pool?: Json;
  readonly account?: Json;
  readonly accountUri?: string;
  readonly provider?: Json;
  /** REGISTER: Request-URI and where it is sent. */
  readonly register: { uri: string; to: string };
  /** INVITE: where it is sent. */
  readonly invite: string;
  readonly warning?: RegExp;
}

const FORMS: readonly Form[] = [
  { name: 'pool sip: URI', pool: { outboundProxy: 'sip:127.0.0.1:5070;transport=tcp' },
    register: { uri: 'sip:127.0.0.1:5070;transport=tcp', to: 'tcp 127.0.0.1:5070' }, invite: 'tcp 127.0.0.1:5070' },
  { name: 'pool <sip:> name-addr (Flexisip docs and tester)', pool: { outboundProxy: '<sip:127.0.0.1:5070;transport=tcp>' },
    register: { uri: 'sip:127.0.0.1:5070;transport=tcp', to: 'tcp 127.0.0.1:5070' }, invite: 'tcp 127.0.0.1:5070' },
  { name: 'pool sips: URI', pool: { outboundProxy: 'sips:127.0.0.1:5071' },
    register: { uri: 'sips:127.0.0.1:5071', to: 'tls 127.0.0.1:5071' }, invite: 'tls 127.0.0.1:5071' },
  { name: 'pool <sip:> proxy and <sip:> registrar', pool: { outboundProxy: '<sip:127.0.0.1:5070;transport=tcp>', registrar: '<sip:127.0.0.3:5073>' },
    register: { uri: 'sip:127.0.0.3:5073', to: 'tcp 127.0.0.1:5070' }, invite: 'tcp 127.0.0.1:5070' },
  { name: 'pool host:port (no scheme: UDP, with a warning)', pool: { outboundProxy: '127.0.0.1:5070' },
    register: { uri: 'sip:127.0.0.1:5070', to: 'udp 127.0.0.1:5070' }, invite: 'udp 127.0.0.1:5070',
    warning: /accountPools\.pool\.outboundProxy: "127\.0\.0\.1:5070" has no scheme: read as sip:127\.0\.0\.1:5070 \(UDP\)/ },
  { name: 'account host:port with protocol tcp', account: { outboundProxy: '127.0.0.2:5072', protocol: 'tcp' },
    register: { uri: 'sip:127.0.0.2:5072;transport=tcp', to: 'tcp 127.0.0.2:5072' }, invite: 'tcp 127.0.0.2:5072' },
  { name: 'account host:port, protocol udp by default', account: { outboundProxy: '127.0.0.2:5072' },
    register: { uri: 'sip:127.0.0.2:5072', to: 'udp 127.0.0.2:5072' }, invite: 'udp 127.0.0.2:5072' },
  { name: 'account host with protocol tls (sips:, port 5061)', account: { outboundProxy: '127.0.0.2', protocol: 'tls' },
    register: { uri: 'sips:127.0.0.2', to: 'tls 127.0.0.2:5061' }, invite: 'tls 127.0.0.2:5061' },
  { name: 'account <sip:> wins over the pool, its protocol not applied to a URI', pool: { outboundProxy: 'sip:127.0.0.1:5070' },
    account: { outboundProxy: '<sip:127.0.0.2:5072;transport=tcp>', protocol: 'udp' },
    register: { uri: 'sip:127.0.0.2:5072;transport=tcp', to: 'tcp 127.0.0.2:5072' }, invite: 'tcp 127.0.0.2:5072' },
  { name: 'account host:port registrar with protocol, through the pool proxy', pool: { outboundProxy: '<sip:127.0.0.1:5070;transport=tcp>' },
    account: { registrar: '127.0.0.3:5073', protocol: 'tcp' },
    register: { uri: 'sip:127.0.0.3:5073;transport=tcp', to: 'tcp 127.0.0.1:5070' }, invite: 'tcp 127.0.0.1:5070' },
  { name: 'nothing set: the account URI host with its protocol (registrar = that proxy)', account: { protocol: 'tcp' }, accountUri: 'sip:line@127.0.0.9',
    register: { uri: 'sip:127.0.0.9;transport=tcp', to: 'tcp 127.0.0.9:5060' }, invite: 'tcp 127.0.0.9:5060' },
  { name: 'nothing set, account URI with a port: kept (Flexisip drops it, warned)', accountUri: 'sip:line@127.0.0.9:5079',
    register: { uri: 'sip:127.0.0.9:5079', to: 'udp 127.0.0.9:5079' }, invite: 'udp 127.0.0.9:5079',
    warning: /loader\[0\]\.uri: no outboundProxy for "sip:line@127\.0\.0\.9:5079": its requests go to sip:127\.0\.0\.9:5079; Flexisip 2\.5 would drop the port \(sip:127\.0\.0\.9\)/ },
  { name: 'provider outgoingInvite.outboundProxy <sip:> (INVITE only)', pool: { outboundProxy: 'sip:127.0.0.1:5070' },
    provider: { outboundProxy: '<sip:127.0.0.4:5074;transport=tcp>' },
    register: { uri: 'sip:127.0.0.1:5070', to: 'udp 127.0.0.1:5070' }, invite: 'tcp 127.0.0.4:5074' },
];

function providersFile(f: Pick<Form, 'pool' | 'account' | 'accountUri' | 'provider'>): Json {
  return {
    schemaVersion: 2,
    providers: [{
      name: 'p', accountPool: 'pool', triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' },
      onAccountNotFound: 'decline', outgoingInvite: { to: 'sip:{incoming.to.user}@trunk.example.net', ...f.provider },
    }],
    accountPools: {
      pool: {
        registrationRequired: true, maxCallsPerLine: 1, ...f.pool,
        loader: [{ uri: f.accountUri ?? 'sip:line@trunk.example.net', secretType: 'clrtxt', secret: 'pw', ...f.account }],
      },
    },
  };
}

async function sentTo(uri: string): Promise<string> {
  const t = await resolveTarget(uri);
  return `${t.protocol} ${t.address}:${t.port}`;
}

class RecordingLog {
  readonly warnings: string[] = [];
  readonly log: Logger = { ...silentLog, warn: (_o: unknown, msg?: string) => void this.warnings.push(String(msg)), child: () => this.log };
}

describe('sip-bridge URI forms of outboundProxy / registrar (check and run time)', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'sip-bridge-forms-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  async function write(json: Json, name = 'providers.json'): Promise<string> {
    await writeFile(path.join(dir, name), JSON.stringify(json, null, 2));
    return name;
  }

  for (const form of FORMS) {
    it(`${form.name}: passes --check-config, REGISTER and INVITE go where Flexisip sends them`, async () => {
      const file = await write(providersFile(form));
      const { problems, warnings } = await validated({ providers: file }, dir);
      assert.deepEqual(problems, [], 'the configuration check accepts it');

      const sip = new FakeSip();
      const host = fakeHost<SipBridgeOptions>({ providers: file }, dir, sip);
      const recorded = new RecordingLog();
      const timers = new ManualTimers();
      await startSipBridge({ ...host, log: recorded.log }, { timers, random: () => 0 });
      try {
        await host.hooks.ready.promise({ version: 'test', transports: ['udp'] });
        await timers.advance(1);
        const register = sip.sent.find((r) => r.method === 'REGISTER');
        assert.ok(register, 'a REGISTER was sent');
        assert.equal(register.uri, form.register.uri, 'REGISTER Request-URI');
        assert.equal(await sentTo(register.outboundProxy ?? register.uri), form.register.to, 'where the host sends the REGISTER');

        const call = incomingCall('sip:alice@internal.example.org', 'sip:+3312@internal.example.org', 'sip:+3312@internal.example.org');
        const start: LegBTarget = { requestUri: 'sip:+3312@internal.example.org', to: 'sip:+3312@internal.example.org', from: 'sip:alice@internal.example.org', outboundProxy: undefined, headers: {} };
        const target = await host.hooks.legBTarget.promise(start, call);
        assert.equal(target.requestUri, 'sip:+3312@trunk.example.net');
        assert.ok(target.outboundProxy, 'the INVITE goes through a proxy, as Flexisip sends it on the account route');
        assert.equal(await sentTo(target.outboundProxy), form.invite, 'where the host sends the INVITE');
        host.hooks.callEnded.call({ call, reason: 'caller-bye', durationMs: 1 });

        // validate() returns the warnings (the host prints and logs them); the running bridge logs none itself.
        if (form.warning) assert.ok(warnings.some((w) => form.warning!.test(w)), `warning ${form.warning} in\n${warnings.join('\n')}`);
        else assert.deepEqual(warnings, []);
        assert.deepEqual(recorded.warnings, [], 'no warning logged by the plugin');
      } finally {
        await host.hooks.shutdown.promise();
      }
    });
  }

  it('refuses what is neither a SIP URI nor (on an account) host[:port], naming the field', async () => {
    const bad: [Pick<Form, 'pool' | 'account' | 'provider'>, string][] = [
      [{ pool: { outboundProxy: '<sip:127.0.0.1:5070' } }, 'accountPools.pool.outboundProxy: "<sip:127.0.0.1:5070" is not a SIP URI'],
      [{ pool: { registrar: 'sip:host:abc' } }, 'accountPools.pool.registrar: "sip:host:abc" is not a SIP URI'],
      [{ account: { outboundProxy: 'line@127.0.0.1', protocol: 'tcp' } }, 'accountPools.pool.loader[0].outboundProxy: "line@127.0.0.1" is neither a SIP URI nor a host[:port]'],
      [{ account: { registrar: '127.0.0.1:5060;transport=tcp' } }, 'accountPools.pool.loader[0].registrar: "127.0.0.1:5060;transport=tcp" is neither a SIP URI nor a host[:port]'],
      [{ provider: { outboundProxy: 'tel:+3312' } }, 'providers[0].outgoingInvite.outboundProxy: "tel:+3312" is neither a SIP URI nor a host[:port]'],
    ];
    for (const [form, expected] of bad) {
      const file = await write(providersFile(form));
      const problems = (await validated({ providers: file }, dir)).problems;
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.ok(problems[0]!.includes(expected), `${problems[0]} should include ${expected}`);
    }
  });

  it("Flexisip's tester configuration (externalAccountUsingCustomRegistrarAndOutboundProxy) as written", async () => {
    // sip-bridge-tester.cc, 2.5.2: pool <sip:…> fields, account host:port fields with "protocol": "tcp", "encrypted": false.
    const file = await write({
      schemaVersion: 2,
      providers: [
        {
          name: 'Internal --> External', triggerCondition: { strategy: 'Always' },
          accountToUse: { strategy: 'FindInPool', source: '{from}', by: '{alias}' }, onAccountNotFound: 'nextProvider',
          outgoingInvite: { to: 'sip:{incoming.to.user}@{account.uri.hostport}{incoming.to.uriParameters}', from: '{account.uri}' },
          accountPool: 'ExternalAccounts',
        },
        {
          name: 'External --> Internal', triggerCondition: { strategy: 'Always' },
          accountToUse: { strategy: 'FindInPool', source: '{to}', by: '{uri}' }, onAccountNotFound: 'nextProvider',
          outgoingInvite: {
            to: '{account.alias}', from: 'sip:{incoming.from.user}@{account.alias.hostport}{incoming.from.uriParameters}',
            outboundProxy: '<sip:127.0.0.4:6064;transport=tcp>',
          },
          accountPool: 'ExternalAccounts',
        },
      ],
      accountPools: {
        ExternalAccounts: {
          outboundProxy: '<sip:unreachable.example.org:5060>', registrar: '<sip:another.unreachable.example.org:5060>',
          registrationRequired: true, maxCallsPerLine: 1,
          loader: [{
            uri: 'sip:internal-user@sip.external.example.org', alias: 'sip:internal-user@sip.internal.example.org',
            outboundProxy: '127.0.0.2:6062', registrar: '127.0.0.1:6061', encrypted: false, protocol: 'tcp',
          }],
        },
      },
    }, 'tester.json');
    assert.deepEqual((await validated({ providers: file }, dir)).problems, []);
    const loaded = await loadBridgeConfig(file, dir);
    assert.ok(loaded.ok);
    const account = loaded.value.pools.get('ExternalAccounts')!.accounts[0]!;
    assert.equal(account.outboundProxy, 'sip:127.0.0.2:6062;transport=tcp');
    assert.equal(account.registrar, 'sip:127.0.0.1:6061;transport=tcp');
    assert.deepEqual(loaded.value.providers.map((p) => p.outboundProxy), [undefined, 'sip:127.0.0.4:6064;transport=tcp']);
    assert.deepEqual(loaded.value.warnings, [
      `providers: ${path.join(dir, file)}: $.accountPools.ExternalAccounts.loader[0].encrypted: unknown key, ignored as Flexisip 2.5 does (remove it, or check its spelling)`,
    ]);
  });
});

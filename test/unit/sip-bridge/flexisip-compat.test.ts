/**
 * Providers files as Flexisip 2.5 reads them: keys it ignores, `{….displayName}` as its template engine renders it,
 * MatchRegex matched against the Request-URI whatever `source` says. Facts: src/b2bua/sip-bridge of Flexisip 2.5.2
 * (see each test).
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startSipBridge } from '../../../plugins/sip-bridge/index.js';
import type { SipBridgeOptions } from '../../../plugins/sip-bridge/index.js';
import { loadBridgeConfig } from '../../../plugins/sip-bridge/load.js';
import { parseNameAddr } from '../../../core/plugin-api/index.js';
import type { LegBTarget } from '../../../core/plugin-api/index.js';
import { asNameAddr } from '../../../core/b2bua/incoming.js';
import { fakeHost, incomingCall, validated } from './fakes.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function v2(provider: Json = {}, account: Json = {}): Json {
  return {
    schemaVersion: 2,
    providers: [{
      name: 'p', accountPool: 'pool', triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' },
      onAccountNotFound: 'decline', outgoingInvite: { to: 'sip:{incoming.to.user}@{account.uri.hostport}' }, ...provider,
    }],
    accountPools: {
      pool: { registrationRequired: false, maxCallsPerLine: 5, outboundProxy: 'sip:127.0.0.1:5070', loader: [{ uri: 'sip:felix@jabiru.example.org', alias: 'sip:felix@flexisip.example.org', ...account }] },
    },
  };
}

describe('sip-bridge: providers files as Flexisip 2.5 reads them', () => {
  let dir: string;
  let n = 0;
  before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'sip-bridge-compat-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  async function write(json: unknown): Promise<string> {
    const name = `providers-${++n}.json`;
    await writeFile(path.join(dir, name), JSON.stringify(json, null, 2));
    return name;
  }
  /** validate()'s warnings (what the host prints and logs), without their `providers: <file>: ` prefix. */
  async function warningsOf(json: unknown): Promise<string[]> {
    const file = await write(json);
    const { problems, warnings } = await validated({ providers: file }, dir);
    assert.deepEqual(problems, [], 'accepted by the check');
    const loaded = await loadBridgeConfig(file, dir);
    assert.ok(loaded.ok);
    assert.deepEqual(warnings, loaded.value.warnings, 'validate() returns the warnings of the configuration the bridge runs');
    const prefix = `providers: ${path.join(dir, file)}: `;
    return warnings.map((w) => (w.startsWith(prefix) ? w.slice(prefix.length) : `UNPREFIXED ${w}`));
  }
  /** Leg B's target for a call, the bridge started on `json`. */
  async function routed(json: Json, from: string, fromName: string | undefined, requestUri = 'sip:jasper@flexisip.example.org'): Promise<LegBTarget | string> {
    const host = fakeHost<SipBridgeOptions>({ providers: await write(json) }, dir);
    await startSipBridge(host, { random: () => 0 });
    try {
      const call = incomingCall(from, 'sip:jasper@flexisip.example.org', requestUri, fromName);
      const start: LegBTarget = { requestUri, to: 'sip:jasper@flexisip.example.org', from, outboundProxy: undefined, headers: {} };
      return await host.hooks.legBTarget.promise(start, call);
    } catch (e) {
      return String((e as { status?: number }).status ?? e);
    } finally {
      await host.hooks.shutdown.promise();
    }
  }

  describe('keys Flexisip does not read are ignored, each with a warning naming its JSON path', () => {
    // nlohmann from_json reads the keys it knows only (v2.hh:131-226, account.hh:208-222, v1.hh:38,50); the tester
    // has "encrypted": false on an account (sip-bridge-tester.cc, externalAccountUsingCustomRegistrarAndOutboundProxy).
    it('version 2: at every level, with a hint when it looks like a known key', async () => {
      const json = v2(
        { comment: 'x', triggerCondition: { strategy: 'Always', note: 1 }, outgoingInvite: { to: '{incoming.to}', headers: {} } },
        { encrypted: false, regsitrar: 'sip:r.example.org' },
      );
      json['generator'] = 'ui';
      json['accountPools']['pool']['description'] = 'trunk';
      assert.deepEqual(await warningsOf(json), [ // in the file's order
        '$.providers[0].triggerCondition.note: unknown key, ignored as Flexisip 2.5 does (remove it, or check its spelling)',
        '$.providers[0].outgoingInvite.headers: unknown key, ignored as Flexisip 2.5 does (remove it, or check its spelling)',
        '$.providers[0].comment: unknown key, ignored as Flexisip 2.5 does (remove it, or check its spelling)',
        '$.accountPools.pool.loader[0].encrypted: unknown key, ignored as Flexisip 2.5 does (remove it, or check its spelling)',
        '$.accountPools.pool.loader[0].regsitrar: unknown key, ignored as Flexisip 2.5 does (did you mean "registrar"?)',
        '$.accountPools.pool.description: unknown key, ignored as Flexisip 2.5 does (remove it, or check its spelling)',
        '$.generator: unknown key, ignored as Flexisip 2.5 does (remove it, or check its spelling)',
      ]);
    });

    it('version 1: on a provider and on an account', async () => {
      const v1 = [{ name: 'x', pattern: 'sip:.*', accounts: [{ uri: 'sip:a@b.org', password: 'p', realm: 'b' }], extra: 1 }];
      assert.deepEqual(await warningsOf(v1), [
        '$[0].accounts[0].realm: unknown key, ignored as Flexisip 2.5 does (remove it, or check its spelling)',
        '$[0].extra: unknown key, ignored as Flexisip 2.5 does (remove it, or check its spelling)',
      ]);
    });

    it('the ignored key does not reach the configuration, known keys of the same object still do', async () => {
      const file = await write(v2({}, { registrar: 'sip:127.0.0.3', registrarr: 'sip:127.0.0.4' }));
      const loaded = await loadBridgeConfig(file, dir);
      assert.ok(loaded.ok);
      const account = loaded.value.pools.get('pool')!.accounts[0]!;
      assert.equal(account.registrar, 'sip:127.0.0.3');
      assert.ok(!('registrarr' in account.account));
    });

    it('a known key with a wrong value is still refused', async () => {
      const file = await write(v2({}, { protocol: 'sctp', junk: 1 }));
      const problems = (await validated({ providers: file }, dir)).problems;
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, /accountPools\.pool\.loader\[0\]\.protocol: "sctp" is not allowed/);
    });
  });

  describe('{….displayName} renders quoted and escaped, as Flexisip renders it', () => {
    // string-format-fields.hh:41-45: `"` → `\"`, `\` → `\\`, then between double quotes; empty when there is none.
    // The tester (sip-bridge-tester.cc:194, :211) writes "{incoming.from.displayName} {account.uri}" and
    // "{incoming.from.displayName} sip:{incoming.from.user}@{account.alias.hostport}{incoming.from.uriParameters}",
    // with callers named Fel"ix and Emil\ie, and checks the display name arrives unchanged.
    const cases: [string | undefined, string][] = [
      ['Fel"ix', '"Fel\\"ix" <sip:felix@jabiru.example.org>'],
      ['Emil\\ie', '"Emil\\\\ie" <sip:felix@jabiru.example.org>'],
      ['a "b" \\c\\', '"a \\"b\\" \\\\c\\\\" <sip:felix@jabiru.example.org>'],
      [undefined, 'sip:felix@jabiru.example.org'],
    ];
    for (const [name, expected] of cases) {
      it(`the tester's From template, display name ${JSON.stringify(name)}: a valid From, the name intact`, async () => {
        const target = await routed(v2({ outgoingInvite: { to: 'sip:{incoming.to.user}@{account.uri.hostport}', from: '{incoming.from.displayName} {account.uri}' } }), 'sip:felix@flexisip.example.org', name);
        assert.ok(typeof target !== 'string', `routed, not ${JSON.stringify(target)}`);
        assert.equal(target.from, expected);
        const written = asNameAddr(target.from);
        assert.ok(written, 'the host makes a From header of it');
        assert.equal(parseNameAddr(written)!.displayName ?? undefined, name, 'the display name arrives unchanged');
      });
    }

    it("the tester's inbound From template (user on the alias host)", async () => {
      const target = await routed(
        v2({ outgoingInvite: { to: '{account.alias}', from: '{incoming.from.displayName} sip:{incoming.from.user}@{account.alias.hostport}{incoming.from.uriParameters}' } }),
        'sip:jasper@jabiru.example.org;user=phone', 'Jas"per',
      );
      assert.ok(typeof target !== 'string', JSON.stringify(target));
      assert.equal(target.from, '"Jas\\"per" <sip:jasper@flexisip.example.org;user=phone>');
    });

    it('written between quotes ("{…displayName}" <…>): Flexisip would double them; we render it quoted once, with a warning', async () => {
      const json = v2({ outgoingInvite: { to: 'sip:{incoming.to.user}@{account.uri.hostport}', from: '"{incoming.from.displayName}" <{account.uri}>' } });
      const target = await routed(json, 'sip:felix@flexisip.example.org', 'Fel"ix');
      assert.ok(typeof target !== 'string', JSON.stringify(target));
      assert.equal(target.from, '"Fel\\"ix" <sip:felix@jabiru.example.org>');
      const noName = await routed(json, 'sip:felix@flexisip.example.org', undefined);
      assert.ok(typeof noName !== 'string', JSON.stringify(noName));
      assert.equal(noName.from, '"" <sip:felix@jabiru.example.org>');
      const [warning, ...others] = await warningsOf(json);
      assert.deepEqual(others, []);
      assert.match(warning!, /^\$\.providers\[0\]\.outgoingInvite\.from: "\{incoming\.from\.displayName\}" is written between double quotes: Flexisip 2\.5 renders the display name with its own quotes/);
    });
  });

  describe('MatchRegex: the pattern matches the whole Request-URI; `source` is ignored, as in Flexisip', () => {
    // trigger-strategy.cc:28-34: the constructor keeps only the pattern (TODO "allow matching on other fields"),
    // shouldHandleThisCall is std::regex_match(call.getRequestAddress()->asStringUriOnly(), pattern).
    const trigger = (t: Json): Json => v2({ triggerCondition: { strategy: 'MatchRegex', ...t } });

    it('source {incoming.from} is not what is matched: the Request-URI is (with a warning)', async () => {
      const json = trigger({ pattern: 'sip:\\+33.*', source: '{incoming.from}' });
      assert.equal(await routed(json, 'sip:+3312@flexisip.example.org', undefined, 'sip:jasper@flexisip.example.org'), '488');
      assert.ok(typeof (await routed(json, 'sip:jasper@flexisip.example.org', undefined, 'sip:+3312@flexisip.example.org')) !== 'string');
      assert.deepEqual((await warningsOf(json)).map((w) => w.replace(/ is ignored.*/, ' is ignored')), ['$.providers[0].triggerCondition.source: "{incoming.from}" is ignored']);
    });

    it("the Request-URI spellings (and Flexisip's own ${incoming.requestUri} of its v1 conversion) give no warning", async () => {
      for (const source of ['{incoming.requestUri}', '{requestUri}', '${incoming.requestUri}']) {
        assert.deepEqual(await warningsOf(trigger({ pattern: 'sip:.*', source })), [], source);
      }
      assert.deepEqual(await warningsOf(trigger({ pattern: 'sip:.*' })), [], 'no source');
      // a source Flexisip never parses is not parsed here either: no template error for it
      assert.equal((await warningsOf(trigger({ pattern: 'sip:.*', source: '${incoming.nope' }))).length, 1);
    });

    it('anchored at both ends (regex_match), on the URI with its parameters', async () => {
      const match = async (pattern: string, requestUri: string) => typeof (await routed(trigger({ pattern }), 'sip:a@b', undefined, requestUri)) !== 'string';
      assert.equal(await match('sip:\\+33[0-9]+@gw\\.example\\.org;user=phone', 'sip:+3312@gw.example.org;user=phone'), true);
      assert.equal(await match('sip:\\+33[0-9]+@gw\\.example\\.org', 'sip:+3312@gw.example.org;user=phone'), false, 'parameters are part of it');
      assert.equal(await match('\\+33', 'sip:+3312@gw.example.org'), false, 'not a search');
      assert.equal(await match('sip:\\+33.*|tel:.*', 'sip:+3312@gw.example.org'), true, 'alternatives anchored as a whole');
      assert.equal(await match('x|sip:\\+33', 'sip:+3312@gw.example.org'), false);
    });
  });
});

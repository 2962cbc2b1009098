import { strict as assert } from 'node:assert';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import plugin from '../../../plugins/sip-bridge/index.js';
import { loadBridgeConfig } from '../../../plugins/sip-bridge/load.js';
import { convertV1 } from '../../../plugins/sip-bridge/v1-to-v2.js';
import { parseProvidersText } from '../../../plugins/sip-bridge/providers-file.js';
import { validated } from './fakes.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/sip-bridge');

const GOOD_V2 = {
  schemaVersion: 2,
  providers: [
    {
      name: 'p1', accountPool: 'pool',
      triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' },
      onAccountNotFound: 'decline', outgoingInvite: { to: '{incoming.to}' },
    },
  ],
  accountPools: { pool: { registrationRequired: false, maxCallsPerLine: 1, loader: [{ uri: 'sip:a@b.org' }] } },
};
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const clone = (): Json => structuredClone(GOOD_V2);

let dir: string;
async function problemsOf(content: string | object): Promise<readonly string[]> {
  const file = path.join(dir, 'providers.json');
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return (await validated({ providers: 'providers.json' }, dir)).problems;
}
const prefix = () => `providers: ${path.join(dir, 'providers.json')}: `;

describe('sip-bridge configuration', () => {
  before(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'sip-bridge-config-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('the section schema has only Flexisip\'s providers key, with type, default and description', () => {
    const s = plugin.configSchema as { additionalProperties: boolean; properties: Record<string, Record<string, unknown>> };
    assert.deepEqual(Object.keys(s.properties), ['providers']);
    assert.equal(s.additionalProperties, false);
    assert.equal(s.properties.providers!.type, 'string');
    assert.equal(s.properties.providers!.default, 'example-path.json');
    assert.ok(typeof s.properties.providers!.description === 'string');
  });

  it('accepts the v2 and v1 fixtures, resolving the path from the configuration folder', async () => {
    assert.deepEqual((await validated({ providers: 'providers-v2.json' }, FIXTURES)).problems, []);
    assert.deepEqual((await validated({ providers: path.join(FIXTURES, 'providers-v1.json') }, '/')).problems, []);
    const loaded = await loadBridgeConfig('providers-v2.json', FIXTURES);
    assert.ok(loaded.ok);
    assert.deepEqual(loaded.value.providers.map((p) => p.name), ['Inbound from trunk', 'Outbound to trunk', 'Shared lines']);
    assert.equal(loaded.value.pools.get('shared')!.accounts.length, 3);
  });

  it('reports a missing providers file with its absolute path and where relative paths resolve from', async () => {
    const problems = (await validated({ providers: 'nope/providers.json' }, dir)).problems;
    assert.deepEqual(problems, [
      `providers: cannot read "${path.join(dir, 'nope/providers.json')}": no such file (check the path; a relative path is resolved from the configuration folder ${dir})`,
    ]);
  });

  it('reports an empty providers value', async () => {
    assert.deepEqual((await validated({ providers: ' ' }, dir)).problems, [
      'providers: no providers file given (set providers=<path of the providers JSON file>)',
    ]);
  });

  it('reports an unreadable file and a folder', async function () {
    if (process.getuid?.() === 0) {
      // root reads anything: check the folder case only
      assert.match(((await validated({ providers: '.' }, dir)).problems)[0]!, /it is a folder/);
      return;
    }
    const file = path.join(dir, 'secret.json');
    await writeFile(file, '{}');
    await chmod(file, 0);
    assert.match(((await validated({ providers: 'secret.json' }, dir)).problems)[0]!, /permission denied/);
  });

  it('reports invalid JSON with line and column', async () => {
    const problems = await problemsOf('{\n  "schemaVersion": 2,\n  "providers": [\n  ,\n}');
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^providers: .*providers\.json: invalid JSON at line 4, column 3: Unexpected token ',' \(fix the JSON syntax\)$/);
    const truncated = await problemsOf('{"schemaVersion": 2,\n"providers": [');
    assert.match(truncated[0]!, /invalid JSON at line 2, column 15: Unexpected end of JSON input/);
  });

  it('reports schema errors by JSON path', async () => {
    const bad = clone();
    delete bad.providers[0].accountPool;
    bad.providers[0].onAccountNotFound = 'nextprovider';
    bad.providers[0].outgoingInvite.mediaEncryption = 'dtsl-srtp';
    bad.accountPools.pool.maxCallsPerLine = 'two';
    bad.accountPools.pool.loader[0].secretType = 'plain';
    bad.accountPools.pool.loader[0].passwd = 'x';
    const problems = await problemsOf(bad);
    const p = prefix();
    for (const expected of [
      `${p}providers[0].accountPool: missing (required)`,
      `${p}providers[0].onAccountNotFound: "nextprovider" is not allowed (did you mean "nextProvider"?)`,
      `${p}providers[0].outgoingInvite.mediaEncryption: "dtsl-srtp" is not allowed (did you mean "dtls-srtp"?)`,
      `${p}accountPools.pool.maxCallsPerLine: must be integer, not the string "two"`,
      `${p}accountPools.pool.loader[0].secretType: "plain" is not allowed (use one of md5, sha256, clrtxt)`,
    ]) assert.ok(problems.includes(expected), `missing ${expected} in\n${problems.join('\n')}`);
    assert.ok(!problems.some((m) => m.includes('passwd')), `an unknown key is not a problem (Flexisip ignores it): ${problems.join('\n')}`);
  });

  it('requires pattern for MatchRegex and by/source for FindInPool; quotes odd pool names in paths', async () => {
    const bad = clone();
    bad.providers[0].triggerCondition = { strategy: 'MatchRegex' };
    bad.providers[0].accountToUse = { strategy: 'FindInPool', by: 'uri' };
    bad.accountPools['pool two'] = { registrationRequired: false, loader: [] };
    const problems = await problemsOf(bad);
    const p = prefix();
    assert.ok(problems.includes(`${p}providers[0].triggerCondition.pattern: missing (required)`), problems.join('\n'));
    assert.ok(problems.includes(`${p}providers[0].accountToUse.source: missing (required)`), problems.join('\n'));
    assert.ok(problems.includes(`${p}accountPools["pool two"].maxCallsPerLine: missing (required)`), problems.join('\n'));
  });

  it('reports a wrong schemaVersion and a wrong root type', async () => {
    const bad = clone();
    bad.schemaVersion = 3;
    assert.deepEqual(await problemsOf(bad), [`${prefix()}schemaVersion: must be 2, not 3`]);
    assert.match((await problemsOf('"hello"'))[0]!, /the file must hold an object \{"schemaVersion": 2/);
  });

  it('reports a provider naming an account pool that does not exist', async () => {
    const bad = clone();
    bad.providers[0].accountPool = 'pol';
    assert.deepEqual(await problemsOf(bad), [`${prefix()}providers[0].accountPool: no account pool named "pol" (did you mean "pool"?)`]);
    bad.providers[0].accountPool = 'something-else';
    assert.deepEqual(await problemsOf(bad), [
      `${prefix()}providers[0].accountPool: no account pool named "something-else" (define it in accountPools, or use one of "pool")`,
    ]);
  });

  it('reports duplicate provider names', async () => {
    const bad = clone();
    bad.providers.push(structuredClone(bad.providers[0]));
    assert.deepEqual(await problemsOf(bad), [
      `${prefix()}providers[1].name: "p1" is already the name of provider [0] (give each provider a unique name)`,
    ]);
  });

  it('accepts an SQL loader (its accounts come from the database at start-up)', async () => {
    const problems = (await validated({ providers: 'providers-sql.json' }, FIXTURES)).problems;
    assert.deepEqual(problems, []);
  });

  it('reports unknown template fields and missing } with the field and a hint', async () => {
    const bad = clone();
    bad.providers[0].outgoingInvite.to = 'sip:{incoming.requestUri.usr}@{account.uri.hostport}';
    bad.providers[0].outgoingInvite.from = '{account.uri';
    const problems = await problemsOf(bad);
    assert.deepEqual(problems, [
      `${prefix()}providers[0].outgoingInvite.to: unknown field "{incoming.requestUri.usr}" in "sip:{incoming.requestUri.usr}@{account.uri.hostport}" (did you mean "{incoming.requestUri.user}"?)`,
      `${prefix()}providers[0].outgoingInvite.from: missing "}" after "{account.uri" in "{account.uri" (close the field)`,
    ]);
  });

  it('checks templates against the fields valid where they appear', async () => {
    const bad = clone();
    bad.providers[0].accountToUse = { strategy: 'FindInPool', by: '{account.uri}', source: '{to}' };
    const problems = await problemsOf(bad);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /providers\[0\]\.accountToUse\.by: unknown field "\{account\.uri\}" in "\{account\.uri\}" \(use one of \{uri\}, \{uri\.user\}, .*\{alias\.displayName\}\)$/);
  });

  it('reports a bad MatchRegex pattern with the engine reason', async () => {
    const bad = clone();
    bad.providers[0].triggerCondition = { strategy: 'MatchRegex', pattern: 'sip:(+33.*' };
    assert.deepEqual(await problemsOf(bad), [
      `${prefix()}providers[0].triggerCondition.pattern: invalid regex "sip:(+33.*": Nothing to repeat (fix the regular expression)`,
    ]);
  });

  it('reports account URIs that are not SIP URIs and duplicate accounts', async () => {
    const bad = clone();
    bad.accountPools.pool.loader = [{ uri: 'alice@b.org' }, { uri: 'sip:a@b.org' }, { uri: 'sip:a@b.org', alias: 'bob' }];
    assert.deepEqual(await problemsOf(bad), [
      `${prefix()}accountPools.pool.loader[0].uri: "alice@b.org" is not a SIP URI (write sip:user@domain)`,
      `${prefix()}accountPools.pool.loader[2].uri: "sip:a@b.org" is already account [1] of this pool (remove the duplicate)`,
      `${prefix()}accountPools.pool.loader[2].alias: "bob" is not a SIP URI (write e.g. sip:proxy.example.org;transport=tcp)`,
    ]);
  });

  it('v1 problems point into the v1 array', async () => {
    const v1: Json[] = [{ name: 'x', pattern: '(', accounts: [{ uri: 'nope' }] }, { name: 'y', pattern: '.*', accounts: [], extra: 1 }];
    assert.deepEqual(await problemsOf(v1), [
      `${prefix()}[0].accounts[0].uri: "nope" is not a SIP URI (write sip:user@domain)`,
      `${prefix()}[0].pattern: invalid regex "(": Unterminated group (fix the regular expression)`,
    ]);
    v1[1]!.name = 'x';
    assert.ok((await problemsOf(v1)).includes(`${prefix()}[1].name: "x" is already the name of provider [0] (give each provider a unique name)`));
  });

  it('converts v1 exactly as Flexisip does', () => {
    const loaded = parseProvidersText(JSON.stringify([{
      name: 'Legacy', pattern: 'sip:\\+33.*', outboundProxy: 'sip:legacy.example.net', registrationRequired: true,
      maxCallsPerLine: 3, accounts: [{ uri: 'sip:a1@legacy.example.net', userid: 'u1', password: 'p1' }], mediaEncryption: 'zrtp', enableAvpf: true,
    }]), '/x.json');
    assert.ok(loaded.ok);
    assert.deepEqual(loaded.value.root, {
      schemaVersion: 2,
      providers: [{
        name: 'Legacy', accountPool: 'Account pool - Legacy',
        triggerCondition: { strategy: 'MatchRegex', pattern: 'sip:\\+33.*', source: '{incoming.requestUri}' },
        accountToUse: { strategy: 'Random' }, onAccountNotFound: 'decline',
        outgoingInvite: {
          to: 'sip:{incoming.requestUri.user}@{account.uri.hostport}{incoming.requestUri.uriParameters}',
          enableAvpf: true, mediaEncryption: 'zrtp',
        },
      }],
      accountPools: {
        'Account pool - Legacy': {
          registrationRequired: true, maxCallsPerLine: 3, outboundProxy: 'sip:legacy.example.net',
          loader: [{ uri: 'sip:a1@legacy.example.net', userid: 'u1', secretType: 'clrtxt', secret: 'p1' }],
        },
      },
    });
    assert.equal(convertV1([{ name: 'n', pattern: '.*', accounts: [] }]).accountPools['Account pool - n']!.maxCallsPerLine, 4294967295);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfig } from '../../../core/cli/check-config.js';
import { isB2buaError } from '../../../core/errors/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('--check-config', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-check-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function check(name: string, text: string) {
    const file = path.join(dir, `${name}.conf`);
    writeFileSync(file, text);
    return { file, ...(await checkConfig(file)) };
  }

  it('says OK for flexisip.conf.example', async () => {
    const r = await checkConfig(path.join(ROOT, 'flexisip.conf.example'));
    assert.equal(r.ok, true, r.lines.join('\n'));
    assert.match(r.lines[0]!, /^OK: .*flexisip.conf.example \(application trenscrypter, built-in/);
  });

  it('says which media engine runs and what it offers here (the example has the default engine)', async () => {
    const r = await checkConfig(path.join(ROOT, 'flexisip.conf.example'));
    assert.match(r.media[0]!, /^media: engine gstreamer; encryption none, sdes(, dtls-srtp)?(, zrtp)?; SDES suites AES_CM_128_HMAC_SHA1_80, /, r.media.join('\n'));
    for (const mode of ['dtls-srtp', 'zrtp']) {
      const offered = r.media[0]!.split(';')[1]!.includes(mode);
      assert.equal(r.media.some((l) => l.includes(`media encryption ${mode} unavailable: `)), !offered, `${mode}: offered, or a warning says why not`);
    }
  });

  it('a relay engine says it carries plain RTP only', async () => {
    const r = await check('relay', '[b2bua-server]\nmedia-engine=relay\n');
    assert.equal(r.ok, true, r.lines.join('\n'));
    assert.equal(r.media[0], 'media: engine relay; encryption none');
  });

  it('nat-addresses with a host name: resolved as at start-up (localhost, from /etc/hosts), two of one family refused', async () => {
    const ok = await check('nat-name', '[b2bua-server]\nmedia-engine=relay\nnat-addresses=localhost\n');
    assert.equal(ok.ok, true, ok.lines.join('\n'));
    const twice = await check('nat-twice', '[b2bua-server]\nmedia-engine=relay\nnat-addresses=127.0.0.1 localhost\n');
    assert.equal(twice.ok, false, twice.lines.join('\n'));
    assert.match(twice.lines.join('\n'), /\[b2bua-server\] nat-addresses: "localhost" gives a second IPv4 address \(127\.0\.0\.1, after 127\.0\.0\.1\)/);
  });

  const cases: [string, string, RegExp][] = [
    ['unknown key', '[b2bua-server]\nmax-call=3\n', /\[b2bua-server\] max-call: unknown key \(did you mean "max-calls"\?\)/],
    ['bad SIP URI', '[b2bua-server]\noutbound-proxy=127.0.0.1\n', /\[b2bua-server\] outbound-proxy: "127.0.0.1" is not a SIP URI/],
    ['bad port range', '[b2bua-server]\naudio-port=20000-10000\n', /\[b2bua-server\] audio-port: "20000-10000": the range starts after it ends/],
    ['illegal user-agent', '[b2bua-server]\nuser-agent=B2B UA\n', /\[b2bua-server\] user-agent: "B2B UA" is not a valid user-agent/],
    ['unknown application', '[b2bua-server]\napplication=sip-bridg\n', /\[b2bua-server\] application: unknown application "sip-bridg" \(did you mean "sip-bridge"\?\); applications found: .*trenscrypter \(built-in\)/],
    ['unknown encryption mode', '[b2bua-server]\napplication=trenscrypter\n[b2bua-server::trenscrypter]\noutgoing-enc-regex=dtsl-srtp sip:.*\n',
      /\[b2bua-server::trenscrypter\] outgoing-enc-regex: unknown mode "dtsl-srtp" \(did you mean "dtls-srtp"\?\)/],
    ['missing providers file', '[b2bua-server]\napplication=sip-bridge\n[b2bua-server::sip-bridge]\nproviders=absent.json\n',
      /\[b2bua-server::sip-bridge\] providers: .*absent.json/],
  ];
  for (const [what, text, pattern] of cases) {
    it(`fails and names the problem: ${what}`, async () => {
      const r = await check(what.replace(/ /g, '-'), text);
      assert.equal(r.ok, false);
      assert.match(r.lines[0]!, /^B2BUA_CONFIG_INVALID: .*: 1 problem:$/);
      assert.ok(r.lines[1]!.includes(r.file), 'the message names the file');
      assert.match(r.lines[1]!, pattern);
    });
  }

  it('lists every problem at once', async () => {
    const r = await check('many', '[b2bua-server]\nmax-call=3\naudio-port=x\nuser-agent=a b\napplication=nope\n');
    assert.equal(r.ok, false);
    assert.equal(r.lines.length, 5, r.lines.join('\n'));
  });

  describe('user-agent with {version}: a warning (the proxy expands it to its own version), exit status unchanged', () => {
    const WARNING = /^B2BUA_CONFIG_WARNING: .*\[b2bua-server\] user-agent: "(.*?)"( \(the default\))? uses \{version\}, .*module::B2bua.* \(write a fixed value without \{version\}, e\.g\. user-agent=(\S+):/;

    it('written: OK first, then the warning with the fixed value to write instead', async () => {
      const r = await check('ua-version', '[b2bua-server]\nuser-agent=My-B2BUA/{version}\n');
      assert.equal(r.ok, true, r.lines.join('\n'));
      assert.match(r.lines[0]!, /^OK: /);
      assert.equal(r.lines.length, 2, r.lines.join('\n'));
      assert.ok(r.lines[1]!.includes(r.file), 'the warning names the file');
      assert.deepEqual(r.lines[1]!.match(WARNING)?.slice(1), ['My-B2BUA/{version}', undefined, 'My-B2BUA/2.5.2']);
    });

    it('the default Flexisip-B2BUA/{version} warns too, saying it is the default', async () => {
      const r = await check('ua-default', '[b2bua-server]\nmax-calls=3\n');
      assert.equal(r.ok, true);
      assert.deepEqual(r.lines[1]?.match(WARNING)?.slice(1), ['Flexisip-B2BUA/{version}', ' (the default)', 'Flexisip-B2BUA/2.5.2']);
    });

    it('a fixed user-agent: no warning', async () => {
      for (const ua of ['Flexisip-B2BUA/2.5.2', 'B2B']) {
        const r = await check('ua-fixed', `[b2bua-server]\nuser-agent=${ua}\n`);
        assert.deepEqual(r.lines.slice(1), [], ua);
      }
    });

    it('with problems: not OK because of the problems, the warning after them', async () => {
      const r = await check('ua-and-problem', '[b2bua-server]\nmax-call=3\n');
      assert.equal(r.ok, false);
      assert.equal(r.lines.length, 3, r.lines.join('\n'));
      assert.match(r.lines[0]!, /: 1 problem:$/);
      assert.match(r.lines[2]!, WARNING);
    });
  });

  describe("the application's warnings (validate() returning { problems, warnings }): after the OK line, exit status unchanged", () => {
    const at = (file: string, app: string) => `B2BUA_CONFIG_WARNING: ${file} [b2bua-server::${app}] `;
    const HEAD = '[b2bua-server]\nmedia-engine=relay\nuser-agent=Flexisip-B2BUA/2.5.2\n';

    it('trenscrypter: a trailing unpaired item of outgoing-enc-regex, ignored as Flexisip does', async () => {
      const r = await check('trailing', `${HEAD}application=trenscrypter\n[b2bua-server::trenscrypter]\noutgoing-enc-regex=zrtp sip:.*@secure\\.org sdes\n`);
      assert.equal(r.ok, true, r.lines.join('\n'));
      assert.match(r.lines[0]!, /^OK: /);
      assert.equal(r.lines.length, 2, r.lines.join('\n'));
      assert.ok(r.lines[1]!.startsWith(at(r.file, 'trenscrypter')), r.lines[1]);
      assert.match(r.lines[1]!.slice(at(r.file, 'trenscrypter').length),
        /^outgoing-enc-regex: last item "sdes" ignored, as Flexisip does: .*\(3 items; add its regex or remove it\)$/);
      assert.equal(r.media[0], 'media: engine relay; encryption none', 'the media lines stay separate');
    });

    it('sip-bridge: an unknown key of the providers file, with its JSON path', async () => {
      const providers = JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/sip-bridge/providers-v2.json'), 'utf8')) as
        { accountPools: Record<string, { loader: Record<string, unknown>[] }> };
      providers.accountPools['trunk']!.loader[0]!['encrypted'] = false;
      const json = path.join(dir, 'unknown-key.json');
      writeFileSync(json, JSON.stringify(providers));
      const r = await check('unknown-key', `${HEAD}application=sip-bridge\n[b2bua-server::sip-bridge]\nproviders=unknown-key.json\n`);
      assert.equal(r.ok, true, r.lines.join('\n'));
      assert.match(r.lines[0]!, /^OK: .*\(application sip-bridge, built-in/);
      assert.deepEqual(r.lines.slice(1), [`${at(r.file, 'sip-bridge')}providers: ${json}: $.accountPools.trunk.loader[0].encrypted: ` +
        'unknown key, ignored as Flexisip 2.5 does (remove it, or check its spelling)']);
    });

    it("[b2bua-server]'s warnings first, then the application's; with problems, after the problems", async () => {
      const section = 'application=trenscrypter\n[b2bua-server::trenscrypter]\noutgoing-enc-regex=zrtp sip:.* sdes\n';
      let r = await check('both', `[b2bua-server]\nmedia-engine=relay\n${section}`);
      assert.equal(r.ok, true, r.lines.join('\n'));
      assert.equal(r.lines.length, 3, r.lines.join('\n'));
      assert.match(r.lines[1]!, /^B2BUA_CONFIG_WARNING: .*\[b2bua-server\] user-agent: /);
      assert.ok(r.lines[2]!.startsWith(at(r.file, 'trenscrypter')), r.lines[2]);
      r = await check('both-and-problem', `[b2bua-server]\nmedia-engine=relay\nmax-call=3\n${section}`);
      assert.equal(r.ok, false);
      assert.match(r.lines[0]!, /: 1 problem:$/);
      assert.deepEqual(r.lines.slice(2).map((l) => l.replace(/ \[b2bua-server(::\w+)?\] .*/, ' [$1]')),
        [`B2BUA_CONFIG_WARNING: ${r.file} []`, `B2BUA_CONFIG_WARNING: ${r.file} [::trenscrypter]`]);
    });
  });

  it('an unreadable file is an error with B2BUA_CONFIG_UNREADABLE', async () => {
    await assert.rejects(checkConfig(path.join(dir, 'missing.conf')),
      (e: unknown) => isB2buaError(e, 'B2BUA_CONFIG_UNREADABLE') && /missing.conf: ENOENT/.test(e.message));
  });
});

/**
 * Start-up logs every configuration warning exactly once, with code B2BUA_CONFIG_WARNING: those of [b2bua-server] and
 * those the application's validate() returned (core/daemon/run.ts logConfigWarnings; the plugins do not log their own).
 * The daemon runs in-process on loopback (port 0, relay media engine), its log lines captured.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CONFIG_WARNING } from '../../../core/plugin-api/index.js';
import { startDaemon } from '../../../core/daemon/run.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures');

type Line = Record<string, unknown>;

async function startupLines(file: string): Promise<Line[]> {
  const lines: Line[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  const daemon = await startDaemon({ configFile: file, debug: false, logDestination: destination });
  assert.equal(await daemon.shutdown('test'), 0);
  return lines;
}

describe('daemon start-up: configuration warnings logged once each', function () {
  this.timeout(20000);
  let dir: string;
  before(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-startup-warnings-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function config(name: string, application: string, section: string): string {
    const file = path.join(dir, `${name}.conf`);
    writeFileSync(file, `[b2bua-server]\napplication=${application}\ntransport=sip:127.0.0.1:0;transport=udp\nmedia-engine=relay\n` +
      `data-directory=${path.join(dir, 'data')}\n[b2bua-server::${application}]\n${section}`);
    return file;
  }

  /** The warn-level lines, which must all be configuration warnings (a plugin logging its own would show here). */
  function warningsOf(lines: Line[]): Line[] {
    const warns = lines.filter((l) => l['level'] === 40);
    assert.deepEqual(warns.filter((l) => l['code'] !== CONFIG_WARNING), [], 'every warn line carries code B2BUA_CONFIG_WARNING');
    return warns;
  }

  it('trenscrypter: the trailing unpaired item, with the [b2bua-server] user-agent warning before it, each once, before "ready"', async () => {
    const file = config('trenscrypter', 'trenscrypter', 'outgoing-enc-regex=zrtp sip:.*@secure\\.org sdes\n');
    const lines = await startupLines(file);
    const warnings = warningsOf(lines);
    assert.equal(warnings.length, 2, JSON.stringify(warnings));
    assert.match(String(warnings[0]!['msg']), /\[b2bua-server\] user-agent: "Flexisip-B2BUA\/\{version\}" \(the default\) uses \{version\}/);
    assert.match(String(warnings[1]!['msg']), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\[b2bua-server::trenscrypter\\] ` +
      'outgoing-enc-regex: last item "sdes" ignored, as Flexisip does: .*\\(3 items; add its regex or remove it\\)$'));
    assert.ok(lines.indexOf(warnings[1]!) < lines.findIndex((l) => l['msg'] === 'b2bua-server ready'), 'logged before ready');
  });

  it('sip-bridge: an unknown providers-file key, naming its JSON path, once', async () => {
    const providers = JSON.parse(readFileSync(path.join(FIXTURES, 'sip-bridge/providers-v2.json'), 'utf8')) as
      { accountPools: Record<string, { registrationRequired: boolean; loader: Record<string, unknown>[] }> };
    for (const pool of Object.values(providers.accountPools)) pool.registrationRequired = false; // no REGISTER in a unit test
    providers.accountPools['trunk']!.loader[0]!['encrypted'] = false;
    writeFileSync(path.join(dir, 'providers.json'), JSON.stringify(providers));
    const file = config('sip-bridge', 'sip-bridge', 'providers=providers.json\n');
    const warnings = warningsOf(await startupLines(file)).filter((w) => !String(w['msg']).includes('[b2bua-server] user-agent'));
    assert.deepEqual(warnings.map((w) => w['msg']), [
      `${file} [b2bua-server::sip-bridge] providers: ${path.join(dir, 'providers.json')}: $.accountPools.trunk.loader[0].encrypted: ` +
        'unknown key, ignored as Flexisip 2.5 does (remove it, or check its spelling)',
    ]);
  });
});

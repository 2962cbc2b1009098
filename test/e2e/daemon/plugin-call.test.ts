import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HOST_API_VERSION } from '../../../core/plugin-api/index.js';
import { startB2bua } from '../../harness/b2bua.js';
import { stopAllStarted } from '../../harness/processes.js';
import { startSipp } from '../../harness/sipp.js';
import { REPO } from './daemon-process.js';

/**
 * The example third-party plugin, loaded from a folder outside the tree by the built daemon, refuses a
 * real call in its incomingCall hook with rejectCall(403) imported from b2bua-server/plugin-api.
 */
describe('third-party plugin hook on a real call (sipp caller)', function () {
  this.timeout(60000);
  let runDir: string;

  before(() => { runDir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-plugin-call-')); });
  after(async () => {
    await stopAllStarted(1000);
    rmSync(runDir, { recursive: true, force: true });
  });

  it('incomingCall runs for each INVITE and its rejectCall(403) reaches the caller', async () => {
    const plugins = path.join(runDir, 'plugins');
    cpSync(path.join(REPO, 'test', 'fixtures', 'third-party-plugin'), path.join(plugins, 'hello'), { recursive: true });
    const marker = path.join(runDir, 'hello.jsonl');
    const daemon = await startB2bua({
      runDir,
      outboundProxy: 'sip:127.0.0.1:9;transport=udp',
      settings: { application: 'hello', 'plugin-directories': plugins },
      extraIni: `[b2bua-server::hello]\nmarker-file=${marker}\nreject-user=mallory\n`,
    });
    const caller = await startSipp({ name: 'caller', runDir, scenario: 'uac_expect_error.xml', remote: daemon.address,
      template: { CODE: 403 }, keys: { to_user: 'mallory' }, maxSeconds: 20 });
    const result = await caller.result();
    assert.equal(result.code, 0, result.summary);
    await daemon.stop();
    const events = readFileSync(marker, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(events.map((e) => e['event']), ['ready', 'incomingCall', 'shutdown']);
    assert.match(String(events[1]!['to']), /^sip:mallory@/);
    assert.equal(events[0]!['hostApiVersion'], HOST_API_VERSION);
  });
});

/**
 * Harness self-test of the daemon driver: start from a temp INI, readiness, /counters at rest, sockets seen
 * through ss -p, SIGTERM -> exit 0; a bad configuration is reported at once with the daemon's own message.
 */
import assert from 'node:assert/strict';
import { createRunDir } from '../../harness/run-dir.js';
import { LIVE_COUNTERS, startB2bua } from '../../harness/b2bua.js';
import { stopAllStarted } from '../../harness/processes.js';
import { requireTools } from '../../harness/tools.js';

describe('harness self-test: b2bua daemon driver', function () {
  this.timeout(30000);
  before(() => requireTools(['ss']));
  afterEach(() => stopAllStarted());

  it('starts, exposes zero counters and its sockets, stops with exit 0 on SIGTERM', async () => {
    const d = await startB2bua({ runDir: createRunDir('harness-b2bua-driver'), outboundProxy: 'sip:127.0.0.1:9;transport=udp' });
    const c = await d.counters();
    for (const k of LIVE_COUNTERS) assert.equal(c[k], 0, `${k} at rest: ${JSON.stringify(c)}`);
    assert.equal(c.callsTotal, 0);
    assert.ok(d.socketCount() >= 2, `SIP + admin sockets of pid ${d.process.pid}`);
    assert.ok(d.logLines().some((l) => l['msg'] === 'b2bua-server ready'), d.logTail());
    const status = await d.stop();
    assert.equal(status.code, 0);
  });

  it('reports a configuration the daemon refuses, quickly and with its message', async () => {
    const t0 = Date.now();
    await assert.rejects(
      startB2bua({ runDir: createRunDir('harness-b2bua-bad-config'), outboundProxy: 'sip:127.0.0.1:9', settings: { 'max-calls': 0 } }),
      /exited during start-up[\s\S]*max-calls/,
    );
    assert.ok(Date.now() - t0 < 10000, 'no wait for the readiness deadline when the daemon already exited');
  });
});

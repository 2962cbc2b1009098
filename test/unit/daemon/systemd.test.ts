/**
 * core/daemon/systemd.ts: a no-op without NOTIFY_SOCKET (the native module is not even loaded), one warning and a no-op
 * when it cannot load, the messages sent (through a recording binding), and the watchdog pinging only while healthy.
 */
import assert from 'node:assert/strict';
import { createSystemdNotifier, mediaWatchdogCheck, watchdogIntervalMs, type SdNotifyBinding } from '../../../core/daemon/systemd.js';

interface Recorded { warnings: string[]; sent: string[] }

function recorder(): Recorded & { log: { warn(o: object, m: string): void; debug(): void }; binding: SdNotifyBinding } {
  const r: Recorded = { warnings: [], sent: [] };
  return {
    ...r,
    log: { warn: (_o, m) => { r.warnings.push(m); }, debug: () => {} },
    binding: { watchdog: () => { r.sent.push('WATCHDOG=1'); }, sendState: (s) => { r.sent.push(s); } },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('systemd notifier (core/daemon/systemd.ts)', () => {
  it('without NOTIFY_SOCKET: disabled, the module is never loaded, every call is a no-op', () => {
    const r = recorder();
    let loaded = 0;
    const n = createSystemdNotifier({ log: r.log, env: { WATCHDOG_USEC: '2000000' }, load: () => { loaded++; return r.binding; } });
    assert.equal(n.enabled, false);
    assert.equal(n.watchdogMs, 0);
    n.ready(() => 'ready: 0 calls');
    n.status('x');
    n.readyFor(42, 'x');
    n.startWatchdog(() => Promise.resolve(undefined));
    n.stopping('stopping');
    n.close();
    assert.equal(loaded, 0);
    assert.deepEqual(r.sent, []);
    assert.deepEqual(r.warnings, []);
  });

  it('a native module that cannot load: one warning, then a no-op (never throws)', () => {
    const r = recorder();
    const n = createSystemdNotifier({ log: r.log, env: { NOTIFY_SOCKET: '/run/x' }, load: () => { throw new Error('libsystemd.so.0: cannot open'); } });
    assert.equal(n.enabled, false);
    n.ready(() => 'ready');
    n.stopping('stopping');
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /sd-notify module cannot load/);
  });

  it('a binding that throws: one warning, the server goes on', () => {
    const r = recorder();
    const n = createSystemdNotifier({ log: r.log, env: { NOTIFY_SOCKET: '/run/x' }, load: () => ({ watchdog() { throw new Error('x'); }, sendState() { throw new Error('ENOENT'); } }) });
    assert.doesNotThrow(() => { n.ready(() => 'ready'); n.status('a'); n.stopping('b'); });
    n.close();
    assert.equal(r.warnings.length, 1);
  });

  it('READY=1 with STATUS, STOPPING=1 with STATUS, STATUS alone, READY=1 with MAINPID for --daemon; the parent-ready server sends no READY=1', () => {
    const r = recorder();
    const n = createSystemdNotifier({ log: r.log, env: { NOTIFY_SOCKET: '@sd' }, load: () => r.binding });
    assert.equal(n.enabled, true);
    n.ready(() => 'ready: 0 calls');
    n.status('stopping: hanging\nup 2 calls');
    n.stopping('stopping: waiting for 3 calls');
    n.readyFor(1234, 'ready: 0 calls');
    n.close();
    assert.deepEqual(r.sent, ['READY=1\nSTATUS=ready: 0 calls', 'STATUS=stopping: hanging up 2 calls', 'STOPPING=1\nSTATUS=stopping: waiting for 3 calls', 'READY=1\nMAINPID=1234\nSTATUS=ready: 0 calls']);

    const child = recorder();
    const detached = createSystemdNotifier({ log: child.log, env: { NOTIFY_SOCKET: '@sd' }, load: () => child.binding, readySentByParent: true });
    detached.ready(() => 'ready: 0 calls');
    detached.close();
    assert.deepEqual(child.sent, []);
  });

  it('WATCHDOG_USEC / WATCHDOG_PID as sd_watchdog_enabled() reads them', () => {
    assert.equal(watchdogIntervalMs({}, 10), 0);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 10), 0);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'abc' }, 10), 0);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }, 10), 30000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '10' }, 10), 30000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '11' }, 10), 0, 'the watchdog of another process');
  });

  it('pings at half the interval while healthy, skips (warn with the reason) while not', async () => {
    const r = recorder();
    const n = createSystemdNotifier({ log: r.log, env: { NOTIFY_SOCKET: '@sd', WATCHDOG_USEC: '100000' }, load: () => r.binding });
    assert.equal(n.watchdogMs, 100);
    let problem: string | undefined;
    n.startWatchdog(() => Promise.resolve(problem));
    try {
      await sleep(230);
      const healthy = r.sent.filter((s) => s === 'WATCHDOG=1').length;
      assert.ok(healthy >= 2 && healthy <= 6, `pings every 50 ms: ${healthy} in 230 ms`);
      problem = 'media worker 1 (pid 7): no answer within 1000 ms';
      await sleep(20);
      const before = r.sent.length;
      await sleep(200);
      assert.equal(r.sent.length, before, 'no ping while unhealthy');
      assert.ok(r.warnings.some((w) => /not healthy, no ping/.test(w)), r.warnings.join('\n'));
      n.close();
      problem = undefined;
      const closed = r.sent.length;
      await sleep(120);
      assert.equal(r.sent.length, closed, 'no ping after close()');
    } finally {
      n.close();
    }
  });

  it('mediaWatchdogCheck: healthy without an engine health, the sick workers named otherwise', async () => {
    assert.equal(await mediaWatchdogCheck(undefined)(), undefined);
    assert.equal(await mediaWatchdogCheck(() => Promise.resolve({ ok: true, workers: [] }))(), undefined);
    const sick = await mediaWatchdogCheck(() => Promise.resolve({
      ok: false, workers: [{ index: 0, pid: 5, ok: true }, { index: 1, pid: 7, ok: false, problem: 'no answer within 1000 ms' }],
    }))();
    assert.equal(sick, 'media worker 1 (pid 7): no answer within 1000 ms');
  });
});

import assert from 'node:assert/strict';
import { MediaTotals, sessionModeLabel } from '../../../core/metrics/media-totals.js';
import type { LegParams, MediaEvent, MediaSession, SessionStats, StreamStats } from '../../../core/media/types.js';

function stream(index: number, n: number, extra: Partial<StreamStats> = {}): StreamStats {
  return {
    index, kind: 'audio', packetsIn: n, bytesIn: n * 100, packetsOut: n, bytesOut: n * 100, srtpAuthFailures: 0, srtpReplays: 0, rejectedSource: 0, lastPacketAt: 0, ...extra,
  };
}

/** A session whose statistics the test sets. */
class FakeSession implements MediaSession {
  stats$: SessionStats = { a: [], b: [] };
  closed = false;
  constructor(readonly id: string, readonly worker?: number) {}
  allocate(): Promise<never> { return Promise.reject(new Error('unused')); }
  configure(_leg: 'a' | 'b', _params: LegParams): Promise<void> { return Promise.resolve(); }
  stats(): Promise<SessionStats> { return Promise.resolve(this.stats$); }
  onEvent(_l: (e: MediaEvent) => void): void {}
  close(): Promise<SessionStats> { this.closed = true; return Promise.resolve(this.stats$); }
}

const legParams = (encryption: 'none' | 'sdes' | 'dtls-srtp'): LegParams => ({
  streams: [{ index: 0, kind: 'audio', enabled: true, rtcpMux: false, direction: 'sendrecv', encryption }],
});

describe('/metrics media totals', () => {
  it('a session\'s final statistics stay in the totals after it closes; live ones are added while it runs', async () => {
    const totals = new MediaTotals();
    const s1 = totals.observe(new FakeSession('s1', 0)) as FakeSession;
    const s2 = totals.observe(new FakeSession('s2', 1)) as FakeSession;
    await s1.configure('a', legParams('sdes'));
    await s1.configure('b', legParams('sdes'));
    s1.stats$ = { a: [stream(0, 10, { srtpAuthFailures: 3, srtpReplays: 1, packetsLost: 2 })], b: [stream(0, 5)] };
    s2.stats$ = { a: [stream(0, 7)], b: [] };
    let t = await totals.totals();
    assert.equal(t.packetsIn, 22);
    assert.equal(t.bytesOut, 2200);
    assert.equal(t.packetsLost, 2);
    assert.equal(t.srtpAuthFailures.sdes, 3);
    assert.equal(t.srtpReplays.sdes, 1);
    assert.equal(t.srtpAuthFailures.none, 0);

    s1.stats$ = { a: [stream(0, 12, { srtpAuthFailures: 4, srtpReplays: 1, packetsLost: 2 })], b: [stream(0, 5)] };
    await s1.close();
    await s2.close();
    t = await totals.totals();
    assert.equal(t.packetsIn, 24, 'closed sessions keep counting: 12 + 5 + 7');
    assert.equal(t.srtpAuthFailures.sdes, 4);
    assert.deepEqual(totals.sessions(), []);
  });

  it('a session whose close() rejects is not kept: it leaves sessions(), what a scrape saw stays in the totals', async () => {
    const totals = new MediaTotals();
    const fake = new FakeSession('s', 0);
    fake.close = () => Promise.reject(new Error('worker gone'));
    const s = totals.observe(fake);
    fake.stats$ = { a: [stream(0, 9)], b: [] };
    assert.equal((await totals.totals()).packetsIn, 9);
    await assert.rejects(s.close(), /worker gone/);
    assert.deepEqual(totals.sessions(), [], 'the session is still tracked (kept for ever)');
    assert.equal((await totals.totals()).packetsIn, 9);
  });

  it('never goes down: final statistics below what a scrape saw (a worker that died) keep the higher values', async () => {
    const totals = new MediaTotals();
    const s = totals.observe(new FakeSession('s', 0)) as FakeSession;
    s.stats$ = { a: [stream(0, 50)], b: [] };
    assert.equal((await totals.totals()).packetsIn, 50);
    s.stats$ = { a: [], b: [] }; // the worker is gone: nothing comes back
    await s.close();
    assert.equal((await totals.totals()).packetsIn, 50);
  });

  it('a stream\'s SRTP counters go under its configured mode; sessions are counted by worker and mode', async () => {
    const totals = new MediaTotals();
    const sdesDtls = totals.observe(new FakeSession('x', 0)) as FakeSession;
    const plain = totals.observe(new FakeSession('y', 0)) as FakeSession;
    const inProcess = totals.observe(new FakeSession('z')) as FakeSession;
    await sdesDtls.configure('a', legParams('sdes'));
    await sdesDtls.configure('b', legParams('dtls-srtp'));
    await plain.configure('a', legParams('none'));
    sdesDtls.stats$ = { a: [stream(0, 1, { srtpAuthFailures: 2 })], b: [stream(0, 1, { srtpAuthFailures: 5 })] };
    const t = await totals.totals();
    assert.equal(t.srtpAuthFailures.sdes, 2);
    assert.equal(t.srtpAuthFailures['dtls-srtp'], 5);
    const sessions = totals.sessions().sort((p, q) => `${p.worker}${p.mode}`.localeCompare(`${q.worker}${q.mode}`));
    assert.deepEqual(sessions, [
      { worker: '0', mode: 'none', count: 1 },
      { worker: '0', mode: 'sdes/dtls-srtp', count: 1 },
      { worker: 'main', mode: 'none', count: 1 },
    ]);
    void inProcess;
  });

  it('mode labels: one mode when both legs agree or one is not configured yet', () => {
    assert.equal(sessionModeLabel('sdes', 'sdes'), 'sdes');
    assert.equal(sessionModeLabel('sdes', undefined), 'sdes');
    assert.equal(sessionModeLabel(undefined, undefined), 'none');
    assert.equal(sessionModeLabel('zrtp', 'none'), 'zrtp/none');
  });
});

import { strict as assert } from 'node:assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPools } from '../../../plugins/sip-bridge/accounts.js';
import type { AccountPool, Line } from '../../../plugins/sip-bridge/accounts.js';
import { compileBridgeConfig } from '../../../plugins/sip-bridge/bridge-config.js';
import { accountStatus, linphoneReasonText } from '../../../plugins/sip-bridge/info.js';
import { loadBridgeConfig } from '../../../plugins/sip-bridge/load.js';
import { parseProvidersText } from '../../../plugins/sip-bridge/providers-file.js';
import {
  MAX_CONSECUTIVE_423, Registrations, refreshDelayMs, retryDelayMs, type RegistrationOptions, type Timers,
} from '../../../plugins/sip-bridge/registration.js';
import type { OutgoingRequest, RegistrationEvent } from '../../../core/plugin-api/index.js';
import { FakeSip, response, silentLog } from './fakes.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/sip-bridge');

/**
 * A manual clock for thousands of timers: lets pending promises settle before each timer fires (as real time
 * would), fires due timers in time order.
 */
class Clock implements Timers {
  time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  nowMs(): number {
    return this.time;
  }

  get pending(): number {
    return this.timers.size;
  }

  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      let next: number | undefined;
      let nextAt = Infinity;
      for (const [id, t] of this.timers) if (t.at <= end && t.at < nextAt) [next, nextAt] = [id, t.at];
      if (next === undefined) break;
      const t = this.timers.get(next)!;
      this.timers.delete(next);
      this.time = t.at;
      t.fn();
    }
    this.time = end;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
}

/** host.sip that records when (clock time) each request left. */
class TimedSip extends FakeSip {
  readonly times: number[] = [];
  constructor(private readonly clock: Clock) {
    super();
  }
  override request(req: OutgoingRequest): ReturnType<FakeSip['request']> {
    this.times.push(this.clock.time);
    return super.request(req);
  }
}

/** One pool `trunk` of `n` registering lines (sip:lineN@trunk.example.net) with the given throttling rate. */
function poolOf(n: number, rateMs: number): AccountPool {
  const json = {
    schemaVersion: 2,
    providers: [{ name: 'p', accountPool: 'trunk', triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' }, onAccountNotFound: 'decline', outgoingInvite: { to: '{incoming.to}' } }],
    accountPools: {
      trunk: {
        outboundProxy: 'sip:trunk.example.net;transport=udp', registrationRequired: true, maxCallsPerLine: 1, registrationThrottlingRateMs: rateMs,
        loader: Array.from({ length: n }, (_, i) => ({ uri: `sip:line${i}@trunk.example.net`, secretType: 'clrtxt', secret: `pw${i}` })),
      },
    },
  };
  const file = parseProvidersText(JSON.stringify(json), '/scale.json');
  assert.ok(file.ok, JSON.stringify(file));
  const { config, problems } = compileBridgeConfig(file.value);
  assert.deepEqual(problems, []);
  return buildPools(config.pools).get('trunk')!;
}

function userOf(req: OutgoingRequest): string {
  return /sip:([^@]+)@/.exec(req.headers.From ?? '')?.[1] ?? '?';
}

function minGap(times: readonly number[]): number {
  let min = Infinity;
  for (let i = 1; i < times.length; i++) min = Math.min(min, times[i]! - times[i - 1]!);
  return min;
}

describe('sip-bridge registrations (fake host.sip, manual clock)', () => {
  let pools: Map<string, AccountPool>;
  let lines: Line[];
  let clock: Clock;
  let sip: TimedSip;
  let events: Omit<RegistrationEvent, 'plugin'>[];
  let regs: Registrations;
  let random: () => number;

  function make(forLines: readonly Line[], extra: Partial<RegistrationOptions> = {}): Registrations {
    return new Registrations(forLines, { sip, log: silentLog, timers: clock, retryMs: 30_000, random: () => random(), onChange: (e) => events.push(e), ...extra });
  }

  beforeEach(async () => {
    const loaded = await loadBridgeConfig('providers-v2.json', FIXTURES);
    assert.ok(loaded.ok);
    pools = buildPools(loaded.value.pools);
    lines = [...pools.get('trunk')!.lines];
    clock = new Clock();
    sip = new TimedSip(clock);
    events = [];
    random = () => 0; // refresh at 50 %, no retry jitter, unless a test says otherwise
    regs = make(lines);
  });

  afterEach(async () => {
    const stopping = regs.stop();
    await clock.advance(10_000);
    await stopping;
  });

  it('sends REGISTER with identity, our Contact, Expires and the account credentials (clrtxt and HA1)', async () => {
    regs.start();
    await clock.advance(10);
    assert.equal(sip.sent.length, 2);
    const { 'Call-ID': callId, CSeq: cseq, ...headers } = sip.sent[0]!.headers;
    assert.match(callId!, /^[0-9a-f]{24}@sip-bridge$/);
    assert.equal(cseq, '3 REGISTER');
    assert.deepEqual({ ...sip.sent[0], headers }, {
      method: 'REGISTER',
      // no registrar: Flexisip's registrar is the outbound proxy (account-pool.cc:152)
      uri: 'sip:trunk.example.net;transport=udp',
      headers: {
        From: '<sip:line1@trunk.example.net>', To: '<sip:line1@trunk.example.net>',
        Contact: '<sip:line1@127.0.0.1:5070;transport=udp>', Expires: '3600',
      },
      credentials: { username: 'line1', password: 'pw1' },
    });
    assert.deepEqual(sip.sent[1]!.credentials, { username: 'api-key-2', realm: 'trunk', ha1: '0123456789abcdef0123456789abcdef', algorithm: 'MD5' });
    assert.equal(lines[0]!.registration.state, 'registered');
    assert.equal(accountStatus(lines[0]!), 'OK');
  });

  it('throttles the first REGISTERs of a pool by registrationThrottlingRateMs', async () => {
    regs.start();
    await clock.advance(0);
    assert.equal(sip.sent.length, 1);
    await clock.advance(9);
    assert.equal(sip.sent.length, 1);
    await clock.advance(1);
    assert.equal(sip.sent.length, 2);
  });

  it('emits registering then registered, and refreshes before expiry without going back to in-progress', async () => {
    sip.answer = () => response(200, 'OK', { Expires: '60' });
    regs.start();
    await clock.advance(10);
    assert.deepEqual(events.slice(0, 2), [
      { account: 'sip:line1@trunk.example.net', state: 'registering' },
      { account: 'sip:line1@trunk.example.net', state: 'registered' },
    ]);
    const before = sip.sent.length;
    await clock.advance(29_000);
    assert.equal(sip.sent.length, before, 'no refresh before 50 % of the granted 60 s');
    await clock.advance(1_100);
    assert.equal(sip.sent.length, before + 2, 'both accounts refreshed (random 0: at 50 %)');
    const line1 = sip.sent.filter((r) => r.headers.From === '<sip:line1@trunk.example.net>');
    assert.equal(line1[1]!.headers['Call-ID'], line1[0]!.headers['Call-ID'], 'a refresh keeps the Call-ID');
    assert.equal(line1[1]!.headers.CSeq, '6 REGISTER', 'and moves CSeq past the ones the host may use for challenges');
    assert.notEqual(sip.sent[1]!.headers['Call-ID'], line1[0]!.headers['Call-ID'], 'each account has its own Call-ID');
    assert.equal(events.length, 4, 'a successful refresh emits nothing');
    assert.equal(lines[0]!.isAvailable(), true);
  });

  it('uses the expires granted in our Contact over the Expires header', async () => {
    sip.answer = (req) => response(200, 'OK', { Contact: `${req.headers.Contact};expires=20`, Expires: '3600' });
    regs.start();
    await clock.advance(10);
    const before = sip.sent.length;
    await clock.advance(10_100);
    assert.equal(sip.sent.length, before + 2, 'refreshed at 50 % of 20 s');
  });

  it('refreshDelayMs: uniform in [50 %, 90 %] of the granted expiry, at least 1 s, at most expiry − 2 s when there is room', () => {
    assert.equal(refreshDelayMs(3600, () => 0), 1_800_000);
    assert.equal(refreshDelayMs(3600, () => 0.5), 2_520_000);
    assert.equal(refreshDelayMs(3600, () => 1), 3_240_000);
    assert.equal(refreshDelayMs(10, () => 1), 8_000, '90 % would leave 1 s: expiry − 2 s');
    assert.equal(refreshDelayMs(3, () => 1), 1_500, 'no room for 2 s: 50 %');
    assert.equal(refreshDelayMs(1, () => 0), 1_000, 'never sooner than 1 s');
    assert.equal(refreshDelayMs(3_000_000, () => 1), 2 ** 31 - 1, 'clamped to what setTimeout can wait');
  });

  it('refreshes of lines registered together spread over [50 %, 90 %] of the expiry (Math.random, drawn per refresh)', async () => {
    const pool = poolOf(200, 0);
    random = Math.random;
    regs = make(pool.lines);
    sip.answer = () => response(200, 'OK', { Expires: '100' });
    regs.start();
    await clock.advance(0);
    assert.equal(sip.sent.length, 200, 'no throttling: all at once');
    const registeredAt = 0;
    await clock.advance(200_000);
    const firstRefresh = new Map<string, number>();
    sip.sent.forEach((r, i) => {
      if (i >= 200 && sip.times[i]! <= 100_000 && !firstRefresh.has(userOf(r))) firstRefresh.set(userOf(r), sip.times[i]! - registeredAt);
    });
    assert.equal(firstRefresh.size, 200, 'every line refreshed before its expiry');
    const delays = [...firstRefresh.values()];
    assert.ok(Math.min(...delays) >= 50_000 && Math.max(...delays) <= 90_000, `within [50 s, 90 s]: ${Math.min(...delays)}..${Math.max(...delays)}`);
    // 200 uniform draws: no draw in a 5 s end slice has probability 0.875^200 ≈ 3e-12
    assert.ok(Math.min(...delays) < 55_000 && Math.max(...delays) > 85_000, `spread: ${Math.min(...delays)}..${Math.max(...delays)}`);
    const perSecond = new Map<number, number>();
    for (const d of delays) perSecond.set(Math.floor(d / 1000), (perSecond.get(Math.floor(d / 1000)) ?? 0) + 1);
    assert.ok(Math.max(...perSecond.values()) <= 25, `no burst: at most ${Math.max(...perSecond.values())} refreshes in one second (mean 5)`);
    // the next refresh is drawn again: not the same delay as the first one for every line
    const second = new Map<string, number>();
    sip.sent.forEach((r, i) => {
      const first = firstRefresh.get(userOf(r));
      if (first !== undefined && sip.times[i]! > first && !second.has(userOf(r))) second.set(userOf(r), sip.times[i]! - first);
    });
    assert.ok([...second].some(([u, d]) => Math.abs(d - firstRefresh.get(u)!) > 1000), 'each refresh draws its own point');
  });

  it('423 Interval Too Brief: REGISTERs again through the queue with Min-Expires, remembered for the line', async () => {
    sip.answer = (req) => (Number(req.headers.Expires) < 7200 ? response(423, 'Interval Too Brief', { 'Min-Expires': '7200' }) : response(200, 'OK', { Expires: '7200' }));
    regs.start();
    await clock.advance(0);
    assert.deepEqual(sip.sent.map((r) => [userOf(r), r.headers.Expires]), [['line1', '3600']]);
    await clock.advance(10);
    assert.deepEqual(sip.sent.map((r) => [userOf(r), r.headers.Expires]), [['line1', '3600'], ['line2', '3600']], 'the retry waits its turn');
    await clock.advance(10);
    assert.deepEqual(sip.sent.slice(2).map((r) => [userOf(r), r.headers.Expires]), [['line1', '7200']]);
    assert.equal(lines[0]!.registration.state, 'registered');
    assert.ok(!events.some((e) => e.state === 'failed'), 'a 423 is not a failure');
    await clock.advance(10);
    assert.equal(lines[1]!.registration.state, 'registered');
    await clock.advance(3_600_000);
    const refresh = sip.sent.slice(4).find((r) => userOf(r) === 'line1');
    assert.equal(refresh?.headers.Expires, '7200', 'the refresh asks Min-Expires straight away');
    assert.equal(sip.sent.filter((r) => r.headers.Expires === '3600').length, 2, 'no 423 round trip again');
  });

  it('423 without a usable Min-Expires, or raising it for ever, fails the line ("Unknown error", as liblinphone)', async () => {
    sip.answer = (req) => (userOf(req) === 'line1' ? response(423, 'Interval Too Brief') : response(423, 'Interval Too Brief', { 'Min-Expires': String(Number(req.headers.Expires) + 1) }));
    regs.start();
    await clock.advance(200);
    assert.deepEqual(lines[0]!.registration, { state: 'failed', reason: '423 Interval Too Brief', status: 423 });
    assert.equal(accountStatus(lines[0]!), 'Registration failed: Unknown error');
    assert.equal(sip.sent.filter((r) => userOf(r) === 'line2').length, MAX_CONSECUTIVE_423 + 1);
    assert.equal(lines[1]!.registration.state, 'failed');
  });

  it('a rejected REGISTER marks the account failed (unavailable, Flexisip\'s text), then retries after retryMs', async () => {
    sip.answer = () => response(403, 'Forbidden');
    regs.start();
    await clock.advance(10);
    assert.deepEqual(lines[0]!.registration, { state: 'failed', reason: '403 Forbidden', status: 403 });
    assert.equal(accountStatus(lines[0]!), 'Registration failed: Bad credentials');
    assert.equal(lines[0]!.isAvailable(), false);
    assert.ok(events.some((e) => e.state === 'failed' && e.reason === '403 Forbidden'), 'the event keeps the SIP status line');
    sip.answer = () => response(200, 'OK');
    await clock.advance(29_000);
    assert.equal(lines[0]!.registration.state, 'failed', 'not retried before retryMs');
    await clock.advance(1_000);
    assert.equal(lines[0]!.registration.state, 'registered');
    assert.equal(lines[0]!.isAvailable(), true);
  });

  it('retries back off exponentially from retryMs, capped, with jitter, and reset by a success', async () => {
    regs = make([lines[0]!], { retryCapMs: 240_000 });
    sip.answer = () => response(503, 'Service Unavailable');
    regs.start();
    await clock.advance(0);
    for (let i = 0; i < 7; i++) await clock.advance(300_000);
    const gaps = sip.times.slice(1).map((t, i) => t - sip.times[i]!);
    assert.deepEqual(gaps.slice(0, 6), [30_000, 60_000, 120_000, 240_000, 240_000, 240_000], 'random 0: no jitter');
    assert.equal(accountStatus(lines[0]!), 'Registration failed: IO error', '503 → SalReasonServiceUnavailable → "IO error"');
    sip.answer = () => response(200, 'OK', { Expires: '100' });
    await clock.advance(240_000);
    assert.equal(lines[0]!.registration.state, 'registered');
    sip.answer = () => response(500, 'Server Internal Error');
    const n = sip.times.length;
    await clock.advance(50_000); // refresh at 50 s fails
    assert.equal(sip.times.length, n + 1);
    await clock.advance(30_000);
    assert.equal(sip.times.length, n + 2, 'the first retry after a success waits retryMs again');
    assert.deepEqual([retryDelayMs(1, 30_000, 600_000, () => 0.999), retryDelayMs(3, 30_000, 600_000, () => 0.5), retryDelayMs(99, 30_000, 600_000, () => 0.999)],
      [37_493, 135_000, 749_850], 'jitter adds up to 25 %, on top of the cap');
  });

  it('honours Retry-After (up to the cap) when longer than the backoff', async () => {
    regs = make([lines[0]!]);
    sip.answer = () => response(503, 'Service Unavailable', { 'Retry-After': '120' });
    regs.start();
    await clock.advance(0);
    await clock.advance(119_000);
    assert.equal(sip.sent.length, 1);
    await clock.advance(1_000);
    assert.equal(sip.sent.length, 2);
  });

  it('a transport failure (request rejects) is a failure with its message ("IO error" in SIP_BRIDGE INFO)', async () => {
    sip.answer = () => Promise.reject(new Error('timeout: no answer from sip:trunk.example.net'));
    regs.start();
    await clock.advance(10);
    assert.deepEqual(lines[1]!.registration, { state: 'failed', reason: 'timeout: no answer from sip:trunk.example.net', status: 0 });
    assert.equal(accountStatus(lines[1]!), 'Registration failed: IO error');
  });

  it('a REGISTER never answered counts as failed after the request timeout ("Not answered"), then is retried', async () => {
    sip.answer = () => new Promise(() => {});
    regs.start();
    await clock.advance(10);
    assert.equal(lines[0]!.registration.state, 'registering');
    assert.equal(accountStatus(lines[0]!), 'Registration in progress');
    await clock.advance(40_000);
    assert.deepEqual(lines[0]!.registration, { state: 'failed', reason: 'no answer within 40000 ms', status: 408 });
    assert.equal(accountStatus(lines[0]!), 'Registration failed: Not answered');
    sip.answer = () => response(200, 'OK');
    await clock.advance(30_000);
    assert.equal(lines[0]!.registration.state, 'registered');
  });

  it('liblinphone\'s reason texts for the statuses a registrar answers', () => {
    assert.deepEqual([401, 407, 403, 404, 408, 480, 486, 500, 503, 504, 0, 423, 599, 603].map(linphoneReasonText), [
      'Unauthorized', 'Unauthorized', 'Bad credentials', 'User not found', 'Not answered', 'Temporarily unavailable', 'Busy',
      'Unknown error', 'IO error', 'Server timeout', 'IO error', 'Unknown error', 'Unknown error', 'Call declined',
    ]);
  });

  it('throttle: 1,000 lines at 10 ms never send two REGISTERs closer than 10 ms, refreshes and retries interleaved', async () => {
    const pool = poolOf(1000, 10);
    random = Math.random;
    regs = make(pool.lines);
    let n = 0;
    let maxQueued = 0;
    sip.answer = () => {
      maxQueued = Math.max(maxQueued, regs.queued());
      n++;
      // every 5th REGISTER fails (retry after 30–37.5 s), the others get 60 s (refresh at 30–54 s)
      return n % 5 === 0 ? response(480, 'Temporarily Unavailable') : response(200, 'OK', { Expires: '60' });
    };
    regs.start();
    await clock.advance(300_000);
    assert.ok(sip.times.length > 4000, `plenty of REGISTERs: ${sip.times.length}`);
    assert.ok(minGap(sip.times) >= 10, `closest two REGISTERs: ${minGap(sip.times)} ms apart`);
    const perLine = new Map<string, number>();
    for (const r of sip.sent) perLine.set(userOf(r), (perLine.get(userOf(r)) ?? 0) + 1);
    assert.equal(perLine.size, 1000, 'every line registered');
    assert.ok(Math.min(...perLine.values()) >= 4, `every line refreshed or retried several times (fewest: ${Math.min(...perLine.values())})`);
    assert.ok(maxQueued <= 1000, `queue bounded by the number of lines: ${maxQueued}`);
    assert.ok(pool.lines.filter((l) => l.registration.state === 'registered').length > 700);
  });

  it('the queue holds one entry per line: asking again for a queued line does not queue it twice (FIFO)', async () => {
    const pool = poolOf(1000, 10);
    regs = make(pool.lines);
    regs.start();
    await clock.advance(0);
    const waiting = pool.lines.slice(1); // the first line already left
    for (let i = 0; i < 3; i++) for (const line of [...waiting].reverse()) regs.refresh(line);
    assert.equal(regs.queued(), 999);
    await clock.advance(10_000);
    assert.equal(regs.queued(), 0);
    const perLine = new Map<string, number>();
    for (const r of sip.sent) perLine.set(userOf(r), (perLine.get(userOf(r)) ?? 0) + 1);
    assert.deepEqual([...new Set(perLine.values())], [1], 'one REGISTER per line');
    assert.deepEqual(sip.sent.slice(0, 3).map(userOf), ['line0', 'line1', 'line2'], 'in pool order: re-asking does not move a line');
    assert.ok(minGap(sip.times) >= 10);
    assert.ok(clock.pending <= 1000 + 1, `timers bounded too: ${clock.pending}`);
  });

  it('at most maxInFlight REGISTERs of a pool await their answer; the next ones leave as answers come in', async () => {
    const pool = poolOf(1000, 0);
    regs = make(pool.lines, { maxInFlight: 200 });
    const waiting: (() => void)[] = [];
    sip.answer = () => new Promise((resolve) => { waiting.push(() => resolve(response(200, 'OK'))); });
    regs.start();
    await clock.advance(100);
    assert.equal(sip.sent.length, 200, 'unthrottled, but windowed');
    assert.equal(regs.queued(), 800);
    for (const answer of waiting.splice(0, 50)) answer();
    await clock.advance(1);
    assert.equal(sip.sent.length, 250);
    while (waiting.length > 0) {
      for (const answer of waiting.splice(0)) answer();
      await clock.advance(1);
    }
    assert.equal(sip.sent.length, 1000);
    assert.equal(pool.lines.filter((l) => l.registration.state === 'registered').length, 1000);
  });

  it('an update while a REGISTER is in flight REGISTERs again once it is answered (one at a time per line)', async () => {
    let answer!: () => void;
    sip.answer = () => new Promise((resolve) => { answer = () => resolve(response(200, 'OK')); });
    regs = make([lines[0]!]);
    regs.start();
    await clock.advance(0);
    regs.refresh(lines[0]!);
    regs.refresh(lines[0]!);
    await clock.advance(100);
    assert.equal(sip.sent.length, 1, 'not while one is in flight');
    answer();
    await clock.advance(100);
    assert.equal(sip.sent.length, 2);
  });

  it('a removed account\'s un-REGISTER and an old identity\'s un-REGISTER go through the queue too', async () => {
    const pool = poolOf(10, 10);
    regs = make(pool.lines);
    regs.start();
    await clock.advance(100);
    assert.equal(sip.sent.length, 10);
    const [a, b, c] = pool.lines;
    const removing = regs.remove(a!);
    void regs.unregisterOldIdentity(b!, regs.unregisterRequestOf(b!)!);
    regs.refresh(c!);
    await clock.advance(0);
    const [ua] = sip.sent.slice(10);
    assert.deepEqual([userOf(ua!), ua!.headers.Expires], ['line0', '0']);
    await removing;
    await clock.advance(30);
    assert.deepEqual(sip.sent.slice(10).map((r) => [userOf(r), r.headers.Expires]), [['line0', '0'], ['line1', '0'], ['line2', '3600']]);
    assert.ok(minGap(sip.times.slice(10)) >= 10);
    assert.equal(a!.registration.state, 'unregistered');
    await clock.advance(3_600_000);
    assert.ok(!sip.sent.slice(13).some((r) => userOf(r) === 'line0'), 'a removed line never REGISTERs again');
  });

  it('stop() un-REGISTERs registered accounts with Expires 0 at once (not throttled) and cancels every timer', async () => {
    regs.start();
    await clock.advance(10);
    sip.sent.length = 0;
    sip.times.length = 0;
    await regs.stop();
    assert.deepEqual(sip.sent.map((r) => [r.headers.From, r.headers.Expires]), [
      ['<sip:line1@trunk.example.net>', '0'],
      ['<sip:line2@trunk.example.net>', '0'],
    ]);
    assert.deepEqual(sip.times, [10, 10]);
    assert.equal(clock.pending, 0);
    assert.equal(lines[0]!.registration.state, 'unregistered');
    await clock.advance(10_000_000);
    assert.equal(sip.sent.length, 2, 'nothing sent after stop');
  });

  it('stop() does not un-REGISTER when unregisterOnServerShutdown is false', async () => {
    const config = lines[0]!.pool.config as { unregisterOnServerShutdown?: boolean };
    config.unregisterOnServerShutdown = false;
    try {
      regs.start();
      await clock.advance(10);
      sip.sent.length = 0;
      await regs.stop();
      assert.equal(sip.sent.length, 0);
    } finally {
      delete config.unregisterOnServerShutdown;
    }
  });

  it('an answer arriving after stop() schedules nothing', async () => {
    let answer!: () => void;
    sip.answer = () => new Promise((resolve) => { answer = () => resolve(response(200, 'OK')); });
    regs.start();
    await clock.advance(0);
    const stopping = regs.stop();
    answer();
    await stopping;
    await clock.advance(0);
    assert.equal(clock.pending, 0);
  });

  it('stop() does not wait for ever on an unreachable registrar, nor un-REGISTER accounts never registered', async () => {
    regs.start();
    await clock.advance(0); // line1 registered
    sip.answer = () => new Promise(() => {}); // line2's REGISTER and every later request: no answer
    await clock.advance(10);
    assert.equal(lines[1]!.registration.state, 'registering');
    sip.sent.length = 0;
    let done = false;
    const stopping = regs.stop().then(() => { done = true; });
    await clock.advance(2_999);
    assert.equal(done, false);
    await clock.advance(1);
    await stopping;
    assert.deepEqual(sip.sent.map((r) => r.headers.From), ['<sip:line1@trunk.example.net>'], 'only the registered account');
  });
});

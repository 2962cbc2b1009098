import { strict as assert } from 'node:assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPools } from '../../../plugins/sip-bridge/accounts.js';
import type { AccountPool, Line } from '../../../plugins/sip-bridge/accounts.js';
import { accountStatus } from '../../../plugins/sip-bridge/info.js';
import { loadBridgeConfig } from '../../../plugins/sip-bridge/load.js';
import { Registrations, refreshDelayMs } from '../../../plugins/sip-bridge/registration.js';
import type { RegistrationEvent } from '../../../core/plugin-api/index.js';
import { FakeSip, ManualTimers, response, silentLog } from './fakes.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/sip-bridge');

describe('sip-bridge registrations (fake host.sip, manual clock)', () => {
  let pools: Map<string, AccountPool>;
  let lines: Line[];
  let sip: FakeSip;
  let timers: ManualTimers;
  let events: Omit<RegistrationEvent, 'plugin'>[];
  let regs: Registrations;

  beforeEach(async () => {
    const loaded = await loadBridgeConfig('providers-v2.json', FIXTURES);
    assert.ok(loaded.ok);
    pools = buildPools(loaded.value.pools);
    lines = [...pools.get('trunk')!.lines];
    sip = new FakeSip();
    timers = new ManualTimers();
    events = [];
    regs = new Registrations(lines, { sip, log: silentLog, timers, retryMs: 30_000, onChange: (e) => events.push(e) });
  });

  afterEach(async () => {
    await regs.stop();
  });

  it('sends REGISTER with identity, our Contact, Expires and the account credentials (clrtxt and HA1)', async () => {
    regs.start();
    await timers.advance(10);
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
    await timers.advance(0);
    assert.equal(sip.sent.length, 1);
    await timers.advance(9);
    assert.equal(sip.sent.length, 1);
    await timers.advance(1);
    assert.equal(sip.sent.length, 2);
  });

  it('emits registering then registered, and refreshes before expiry without going back to in-progress', async () => {
    sip.answer = () => response(200, 'OK', { Expires: '60' });
    regs.start();
    await timers.advance(10);
    assert.deepEqual(events.slice(0, 2), [
      { account: 'sip:line1@trunk.example.net', state: 'registering' },
      { account: 'sip:line1@trunk.example.net', state: 'registered' },
    ]);
    assert.equal(refreshDelayMs(60), 54_000);
    const before = sip.sent.length;
    await timers.advance(53_000);
    assert.equal(sip.sent.length, before, 'no refresh too early');
    await timers.advance(1_500);
    assert.equal(sip.sent.length, before + 2, 'both accounts refreshed');
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
    await timers.advance(10);
    const before = sip.sent.length;
    await timers.advance(15_000);
    assert.equal(sip.sent.length, before + 2);
  });

  it('a rejected REGISTER marks the account failed (unavailable), then retries', async () => {
    sip.answer = () => response(403, 'Forbidden');
    regs.start();
    await timers.advance(10);
    assert.deepEqual(lines[0]!.registration, { state: 'failed', reason: '403 Forbidden' });
    assert.equal(accountStatus(lines[0]!), 'Registration failed: 403 Forbidden');
    assert.equal(lines[0]!.isAvailable(), false);
    assert.ok(events.some((e) => e.state === 'failed' && e.reason === '403 Forbidden'));
    sip.answer = () => response(200, 'OK');
    await timers.advance(29_000);
    assert.equal(lines[0]!.registration.state, 'failed', 'not retried before retryMs');
    await timers.advance(1_000);
    assert.equal(lines[0]!.registration.state, 'registered');
    assert.equal(lines[0]!.isAvailable(), true);
  });

  it('a transport failure (request rejects) is a failure with its message', async () => {
    sip.answer = () => Promise.reject(new Error('timeout: no answer from sip:trunk.example.net'));
    regs.start();
    await timers.advance(10);
    assert.deepEqual(lines[1]!.registration, { state: 'failed', reason: 'timeout: no answer from sip:trunk.example.net' });
  });

  it('a REGISTER never answered counts as failed after the request timeout, then is retried', async () => {
    sip.answer = () => new Promise(() => {});
    regs.start();
    await timers.advance(10);
    assert.equal(lines[0]!.registration.state, 'registering');
    await timers.advance(40_000);
    assert.deepEqual(lines[0]!.registration, { state: 'failed', reason: 'no answer within 40000 ms' });
    sip.answer = () => response(200, 'OK');
    await timers.advance(30_000);
    assert.equal(lines[0]!.registration.state, 'registered');
  });

  it('stop() un-REGISTERs registered accounts with Expires 0 and cancels every timer', async () => {
    regs.start();
    await timers.advance(10);
    sip.sent.length = 0;
    await regs.stop();
    assert.deepEqual(sip.sent.map((r) => [r.headers.From, r.headers.Expires]), [
      ['<sip:line1@trunk.example.net>', '0'],
      ['<sip:line2@trunk.example.net>', '0'],
    ]);
    assert.deepEqual(timers.scheduled, []);
    assert.equal(lines[0]!.registration.state, 'unregistered');
    assert.equal(accountStatus(lines[0]!), 'Unregistered');
    await timers.advance(10_000_000);
    assert.equal(sip.sent.length, 2, 'nothing sent after stop');
  });

  it('stop() does not un-REGISTER when unregisterOnServerShutdown is false', async () => {
    const config = lines[0]!.pool.config as { unregisterOnServerShutdown?: boolean };
    config.unregisterOnServerShutdown = false;
    try {
      regs.start();
      await timers.advance(10);
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
    await timers.advance(0);
    const stopping = regs.stop();
    answer();
    await stopping;
    await timers.advance(0);
    assert.deepEqual(timers.scheduled, []);
  });

  it('stop() does not wait for ever on an unreachable registrar, nor un-REGISTER accounts never registered', async () => {
    regs.start();
    await timers.advance(0); // line1 registered
    sip.answer = () => new Promise(() => {}); // line2's REGISTER and every later request: no answer
    await timers.advance(10);
    assert.equal(lines[1]!.registration.state, 'registering');
    sip.sent.length = 0;
    let done = false;
    const stopping = regs.stop().then(() => { done = true; });
    await timers.advance(2_999);
    assert.equal(done, false);
    await timers.advance(1);
    await stopping;
    assert.deepEqual(sip.sent.map((r) => r.headers.From), ['<sip:line1@trunk.example.net>'], 'only the registered account');
  });

  it('refreshDelayMs refreshes at 90 % with at least 5 s margin when possible', () => {
    assert.equal(refreshDelayMs(3600), 3_240_000);
    assert.equal(refreshDelayMs(30), 25_000);
    assert.equal(refreshDelayMs(1), 500);
  });
});

/**
 * sip-bridge registrations at scale, through the daemon: 1,000 static accounts of one pool with
 * registrationThrottlingRateMs 5 REGISTER (digest) against a sipp registrar (scenarios/sip-bridge/uas_registrar.xml:
 * 401, verifyauth per account, 200 granting 20 s). All reach "OK" in SIP_BRIDGE INFO (admin HTTP), no two REGISTERs
 * left closer than the throttle, and the refreshes spread over 50–90 % of the expiry, throttled too.
 * Timing is measured on the wire: a dumpcap capture on loopback (kernel timestamps of the packets we sent), counting
 * the REGISTERs without Authorization (one per REGISTER the queue lets out; the digest answer follows the 401 at once,
 * as in liblinphone, and is part of the same exchange).
 * A second pool of 3 accounts against a registrar wanting Min-Expires 7200: 423, REGISTER again with Expires 7200, OK.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';
import { startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { portsFilter, startCapture, type Capture } from '../../harness/capture.js';
import type { IpPacket } from '../../harness/pcap.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir, tail } from '../../harness/run-dir.js';
import { received, startSipp, waitForListening, type SippRun } from '../../harness/sipp.js';
import { requireTools } from '../../harness/tools.js';
import { sleep, waitUntil } from '../../harness/wait.js';
import { headerOf } from './bridge-env.js';

const ACCOUNTS = 1000;
const THROTTLE_MS = 5;
/** Kernel timestamps of packets our daemon sent: only clock granularity and capture noise. */
const TOLERANCE_MS = 0.5;
const GRANT_SECONDS = 20;
const MIN_EXPIRES = 7200;
const BRIEF_ACCOUNTS = 3;
const REALM = 'scale.example.net';

interface Info { providers: { name: string; accounts: { address: string; status: string }[] }[] }

async function sipBridgeInfo(b2bua: B2buaDaemon): Promise<Info> {
  const res = await fetch(`http://${b2bua.adminAddress}/plugin/${encodeURIComponent('SIP_BRIDGE INFO')}`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200, `GET /plugin/SIP_BRIDGE INFO answered ${res.status}`);
  return (await res.json()) as Info;
}

function statusesOf(info: Info, provider: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const a of info.providers.find((p) => p.name === provider)?.accounts ?? []) counts.set(a.status, (counts.get(a.status) ?? 0) + 1);
  return counts;
}

function pool(registrarPort: number, users: readonly string[]): unknown {
  return {
    outboundProxy: `<sip:127.0.0.1:${registrarPort};transport=udp>`,
    registrationRequired: true,
    maxCallsPerLine: 1,
    registrationThrottlingRateMs: THROTTLE_MS,
    loader: users.map((u) => ({ uri: `sip:${u}@${REALM}`, secretType: 'clrtxt', secret: `pw-${u}` })),
  };
}

function provider(name: string, accountPool: string): unknown {
  return {
    name, accountPool, triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' }, onAccountNotFound: 'decline',
    outgoingInvite: { to: 'sip:{incoming.requestUri.user}@{account.uri.hostport}' },
  };
}

/** REGISTERs on the wire to `port` that carry no Authorization: the ones the queue let out, with their Call-ID. */
function queuedRegisters(packets: readonly IpPacket[], port: number): { time: number; callId: string; expires: string }[] {
  return packets
    .filter((p) => p.protocol === 'udp' && p.dstPort === port)
    .map((p) => ({ time: p.time, text: p.payload.toString('latin1') }))
    .filter((m) => m.text.startsWith('REGISTER ') && headerOf(m.text, 'Authorization') === undefined)
    .map((m) => ({ time: m.time, callId: headerOf(m.text, 'Call-ID') ?? '?', expires: headerOf(m.text, 'Expires') ?? '?' }))
    .sort((a, b) => a.time - b.time);
}

describe('sip-bridge: 1,000 accounts register against a sipp registrar, throttled', function () {
  this.timeout(90000);
  let runDir = '';
  let registrar: SippRun | undefined;
  let brief: SippRun | undefined;
  let b2bua: B2buaDaemon | undefined;
  let capture: Capture | undefined;
  let startedAt = 0;
  let allOkAt = 0;

  before(async function () {
    requireTools(['sipp', 'dumpcap', 'ss']);
    runDir = createRunDir('sip-bridge-registrations-scale');
    const [port, briefPort] = await freePorts(2);
    capture = await startCapture(path.join(runDir, 'registrar.pcap'), portsFilter([port!]), 80);
    const common = { runDir, transport: 'udp' as const, calls: 100_000, concurrent: 5000, keys: { realm: REALM }, maxSeconds: 80, extraArgs: ['-deadcall_wait', '100'] };
    registrar = await startSipp({ ...common, name: 'registrar', scenario: 'sip-bridge/uas_registrar.xml', port: port!, template: { MIN_EXPIRES: 0, GRANT: GRANT_SECONDS } });
    brief = await startSipp({ ...common, name: 'brief', scenario: 'sip-bridge/uas_registrar.xml', port: briefPort!, template: { MIN_EXPIRES, GRANT: MIN_EXPIRES } });
    await waitForListening(registrar.port, 'udp');
    await waitForListening(brief.port, 'udp');
    const users = Array.from({ length: ACCOUNTS }, (_, i) => `u${String(i).padStart(4, '0')}`);
    const providers = path.join(runDir, 'providers.json');
    fs.writeFileSync(providers, JSON.stringify({
      schemaVersion: 2,
      providers: [provider('Scale', 'scale'), provider('Brief', 'brief')],
      accountPools: {
        scale: pool(registrar.port, users),
        brief: pool(brief.port, Array.from({ length: BRIEF_ACCOUNTS }, (_, i) => `brief${i}`)),
      },
    }));
    startedAt = Date.now();
    b2bua = await startB2bua({
      runDir, outboundProxy: `sip:127.0.0.1:${registrar.port};transport=udp`, settings: { application: 'sip-bridge' },
      extraIni: `[b2bua-server::sip-bridge]\nproviders=${providers}`, maxSeconds: 85,
    });
  });

  afterEach(function (this: Context) {
    if (this.currentTest?.state === 'failed') {
      console.log(`run dir: ${runDir}\n--- b2bua log tail:\n${b2bua?.logTail(20)}\n--- registrar errors:\n${registrar ? tail(registrar.files.errors, 10) : ''}`);
    }
  });

  after(async () => {
    await capture?.stop().catch(() => []);
    await stopAllStarted();
  });

  it(`all ${ACCOUNTS} accounts reach OK in SIP_BRIDGE INFO (digest verified per account), in about ${ACCOUNTS} × ${THROTTLE_MS} ms`, async () => {
    let last = new Map<string, number>();
    await waitUntil(`${ACCOUNTS} accounts OK in SIP_BRIDGE INFO`, async () => {
      if (!b2bua!.process.isRunning()) throw new Error(`b2bua-server exited:\n${b2bua!.logTail(20)}`);
      last = statusesOf(await sipBridgeInfo(b2bua!), 'Scale');
      return last.get('OK') === ACCOUNTS ? true : undefined;
    }, 40_000, 250).catch((e: Error) => assert.fail(`${e.message}; statuses: ${JSON.stringify([...last])}`));
    allOkAt = Date.now();
    const seconds = (allOkAt - startedAt) / 1000;
    console.log(`      ${ACCOUNTS} accounts OK ${seconds.toFixed(1)} s after the daemon was started`);
    assert.ok(seconds >= (ACCOUNTS * THROTTLE_MS) / 1000, `faster than the throttle allows: ${seconds} s`);
    const failed = b2bua!.logLines().filter((l) => l['msg'] === 'registration failed');
    assert.deepEqual(failed, [], 'no registration failed');
  });

  it(`the 423 pool: REGISTER again at once with Min-Expires ${MIN_EXPIRES}, then OK`, async () => {
    await waitUntil('the Brief accounts OK', async () => (statusesOf(await sipBridgeInfo(b2bua!), 'Brief').get('OK') === BRIEF_ACCOUNTS ? true : undefined), 10_000, 250);
    const registers = received(fs.readFileSync(brief!.files.messages, 'latin1'), /^REGISTER /);
    const byCallId = new Map<string, string[]>();
    for (const r of registers) byCallId.set(headerOf(r, 'Call-ID')!, [...(byCallId.get(headerOf(r, 'Call-ID')!) ?? []), headerOf(r, 'Expires')!]);
    assert.equal(byCallId.size, BRIEF_ACCOUNTS);
    for (const [callId, expires] of byCallId) {
      // 423 to the 3600 one, then the 401 challenge and the authenticated one, both with Min-Expires
      assert.deepEqual(expires, ['3600', String(MIN_EXPIRES), String(MIN_EXPIRES)], `REGISTERs of ${callId}`);
    }
  });

  it(`on the wire: no two REGISTERs closer than ${THROTTLE_MS} ms, refreshes included, spread over 50–90 % of ${GRANT_SECONDS} s`, async () => {
    // the last account was OK at allOkAt; its refresh comes at most 90 % of the expiry later
    await sleep(Math.max(0, allOkAt + GRANT_SECONDS * 900 + 1500 - Date.now()));
    const packets = await capture!.stop();
    capture = undefined;
    const registers = queuedRegisters(packets, registrar!.port).filter((r) => r.expires !== '0');
    const byCallId = new Map<string, number[]>();
    for (const r of registers) byCallId.set(r.callId, [...(byCallId.get(r.callId) ?? []), r.time]);
    assert.equal(byCallId.size, ACCOUNTS, 'one Call-ID per account (RFC 3261 10.2.4: refreshes reuse it)');
    const gaps = registers.slice(1).map((r, i) => (r.time - registers[i]!.time) * 1000);
    const minGap = Math.min(...gaps);
    const refreshes = [...byCallId.values()].filter((t) => t.length >= 2).map((t) => t[1]! - t[0]!);
    console.log(`      ${registers.length} REGISTERs (initial + refreshes); closest two ${minGap.toFixed(2)} ms apart; ` +
      `${refreshes.length} first refreshes ${Math.min(...refreshes).toFixed(2)}..${Math.max(...refreshes).toFixed(2)} s after the initial REGISTER`);
    assert.ok(minGap >= THROTTLE_MS - TOLERANCE_MS, `two REGISTERs ${minGap.toFixed(3)} ms apart (throttle ${THROTTLE_MS} ms)`);
    assert.equal(refreshes.length, ACCOUNTS, 'every account refreshed before its expiry');
    // from the initial REGISTER: + the 401 round trip before the 200 (ms), + its wait in the queue at refresh time
    assert.ok(Math.min(...refreshes) >= GRANT_SECONDS * 0.5, `earliest refresh ${Math.min(...refreshes)} s`);
    assert.ok(Math.max(...refreshes) <= GRANT_SECONDS * 0.9 + 1, `latest refresh ${Math.max(...refreshes)} s`);
    // 1,000 uniform draws over 8 s: each 1 s slice of the window holds about 125; none empty, none holding half
    const perSecond = new Map<number, number>();
    for (const d of refreshes) perSecond.set(Math.floor(d), (perSecond.get(Math.floor(d)) ?? 0) + 1);
    for (let s = GRANT_SECONDS * 0.5; s < GRANT_SECONDS * 0.9; s++) {
      assert.ok((perSecond.get(s) ?? 0) > 40 && (perSecond.get(s) ?? 0) < 500, `refreshes per second of the window: ${JSON.stringify([...perSecond].sort((a, b) => a[0] - b[0]))}`);
    }
    assert.equal(statusesOf(await sipBridgeInfo(b2bua!), 'Scale').get('OK'), ACCOUNTS, 'all still OK after their refresh');
  });
});

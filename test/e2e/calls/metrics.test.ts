/**
 * /metrics moves as real calls do (sipp on both sides; our SIP+SRTP endpoints for a wrongly keyed SRTP sender), a
 * killed media worker, a sip-bridge daemon's registrations; promtool accepts every scrape.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Context } from 'mocha';
import { pairs } from '../../harness/call-scenarios.js';
import { startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir } from '../../harness/run-dir.js';
import { placeCall, sdes } from '../../harness/srtp-call.js';
import { newCrypto } from '../../harness/srtp-media.js';
import { requireTools } from '../../harness/tools.js';
import { sleep, waitUntil } from '../../harness/wait.js';
import { ITSP_PASSWORD, startBridgeEnv, waitForRegistration } from '../sip-bridge/bridge-env.js';
import { setUp, trenscrypterSuite } from '../trenscrypter/fixture.js';
import { assertExitCodes, callSuite, callThrough } from './fixture.js';

async function scrape(b2bua: B2buaDaemon): Promise<string> {
  const res = await fetch(`http://${b2bua.adminAddress}/metrics`, { signal: AbortSignal.timeout(3000) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of one sample (`name{labels}`) in an exposition, undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Every sample of a metric (`name{...} value` lines), as label text → value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of text.split('\n')) {
    const m = /^([a-z0-9_]+)(\{[^}]*\})? (\S+)$/.exec(l);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

function promtoolCheck(text: string): void {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
}

describe('/metrics during and after real calls', function () {
  callSuite(this);
  before(() => requireTools(['promtool']));

  it('an answered call: calls_in_progress 1 during it, then calls_ended_total{result="answered"} 1 and one set-up time', async () => {
    let during: number | undefined;
    let during2: Map<string, number> | undefined;
    const r = await callThrough('metrics-answered', pairs.basic, {
      settings: { 'media-engine': 'gstreamer', 'media-workers': 1 },
      beforeCaller: ({ b2bua, calleeRun }) => {
        void (async () => {
          await calleeRun.waitForMessage(/^ACK /m, 15000);
          const text = await scrape(b2bua!);
          during = sample(text, 'b2bua_calls_in_progress');
          during2 = samples(text, 'b2bua_media_sessions');
        })();
        return Promise.resolve();
      },
    });
    assertExitCodes(r);
    assert.equal(during, 1, 'one call in progress while it was up');
    await r.b2bua.waitForCounters(['calls'], 5000);
    const after = await scrape(r.b2bua);
    promtoolCheck(after);
    assert.equal(sample(after, 'b2bua_calls_in_progress'), 0);
    assert.equal(sample(after, 'b2bua_calls_total'), 1);
    assert.equal(sample(after, 'b2bua_calls_ended_total{result="answered"}'), 1);
    assert.equal(sample(after, 'b2bua_call_setup_seconds_count'), 1);
    const workersUp = after.split('\n').filter((l) => l.startsWith('b2bua_media_worker_up{'));
    assert.deepEqual(workersUp, ['b2bua_media_worker_up{worker="0"} 1']);
    assert.ok((sample(after, 'nodejs_eventloop_lag_seconds') ?? -1) >= 0, 'event-loop lag exported');
    // SIP traffic, both legs over UDP: the INVITE came in on leg A and went out on leg B; 200 OK both ways; one BYE.
    const req = (method: string, direction: string): number | undefined => sample(after, `b2bua_sip_requests_total{method="${method}",transport="udp",direction="${direction}"}`);
    const res = (code: string, method: string, direction: string): number | undefined =>
      sample(after, `b2bua_sip_responses_total{code="${code}",method="${method}",transport="udp",direction="${direction}"}`);
    assert.equal(req('INVITE', 'in'), 1, after);
    assert.equal(req('INVITE', 'out'), 1);
    assert.equal(req('ACK', 'in'), 1);
    assert.equal(req('ACK', 'out'), 1);
    assert.equal(req('BYE', 'in'), 1);
    assert.equal(req('BYE', 'out'), 1);
    assert.equal(res('100', 'INVITE', 'out'), 1, 'our 100 Trying on leg A');
    assert.ok((res('200', 'INVITE', 'in') ?? 0) >= 1);
    assert.ok((res('200', 'INVITE', 'out') ?? 0) >= 1);
    assert.equal(res('200', 'BYE', 'in'), 1);
    assert.equal(res('200', 'BYE', 'out'), 1);
    assert.equal(res('486', 'INVITE', 'in'), undefined);
    assert.ok(samples(after, 'b2bua_sip_retransmissions_total').has('{direction="out"}'));
    // media: the tones went through the worker; the totals stay after the session closed
    assert.ok((sample(after, 'b2bua_media_packets_total{direction="in"}') ?? 0) > 50, 'RTP packets in counted after the call');
    assert.ok((sample(after, 'b2bua_media_bytes_total{direction="out"}') ?? 0) > 50 * 160);
    assert.deepEqual([...samples(after, 'b2bua_media_sessions')], [], 'no media session left');
    assert.equal(during2?.get('{worker="0",mode="none"}'), 1, `media sessions during the call: ${JSON.stringify([...during2 ?? []])}`);
    assert.equal(sample(after, 'b2bua_media_worker_restarts_total'), 0);
  });

  it('a 486 and a CANCEL: rejected_4xx and cancelled, no set-up time', async () => {
    const busy = await callThrough('metrics-486', () => pairs.error(486, 'Busy Here'));
    assertExitCodes(busy);
    await busy.b2bua.waitForCounters(['calls'], 5000);
    const afterBusy = await scrape(busy.b2bua);
    promtoolCheck(afterBusy);
    assert.equal(sample(afterBusy, 'b2bua_calls_ended_total{result="rejected_4xx"}'), 1);
    assert.equal(sample(afterBusy, 'b2bua_calls_ended_total{result="answered"}'), undefined);
    assert.equal(sample(afterBusy, 'b2bua_call_setup_seconds_count'), 0);
    assert.equal(sample(afterBusy, 'b2bua_sip_responses_total{code="486",method="INVITE",transport="udp",direction="in"}'), 1, afterBusy);
    assert.equal(sample(afterBusy, 'b2bua_sip_responses_total{code="486",method="INVITE",transport="udp",direction="out"}'), 1);
    assert.equal(sample(afterBusy, 'b2bua_sip_requests_total{method="BYE",transport="udp",direction="in"}'), undefined);

    const cancel = await callThrough('metrics-cancel', pairs.cancel);
    assertExitCodes(cancel);
    await cancel.b2bua.waitForCounters(['calls'], 5000);
    const afterCancel = await scrape(cancel.b2bua);
    assert.equal(sample(afterCancel, 'b2bua_calls_ended_total{result="cancelled"}'), 1);
    promtoolCheck(afterCancel);
    assert.equal(sample(afterCancel, 'b2bua_sip_requests_total{method="CANCEL",transport="udp",direction="in"}'), 1, afterCancel);
    assert.equal(sample(afterCancel, 'b2bua_sip_requests_total{method="CANCEL",transport="udp",direction="out"}'), 1);
    assert.equal(sample(afterCancel, 'b2bua_sip_responses_total{code="487",method="INVITE",transport="udp",direction="out"}'), 1);
  });

  it('a killed media worker: media_worker_up 0 while it is stuck, 1 once respawned, media_worker_restarts_total 1', async () => {
    const runDir = createRunDir('metrics-worker-kill');
    const [deadEnd] = await freePorts(1);
    const b2bua = await startB2bua({ runDir, outboundProxy: `sip:127.0.0.1:${deadEnd};transport=udp`, settings: { 'media-engine': 'gstreamer', 'media-workers': 1 } });
    const health = async (): Promise<{ workers: { pid: number }[] }> => {
      const res = await fetch(`http://${b2bua.adminAddress}/health`, { signal: AbortSignal.timeout(3000) });
      return ((await res.json()) as { media: { workers: { pid: number }[] } }).media;
    };
    const before = await scrape(b2bua);
    promtoolCheck(before);
    assert.equal(sample(before, 'b2bua_media_worker_up{worker="0"}'), 1);
    assert.equal(sample(before, 'b2bua_media_worker_restarts_total'), 0);
    const victim = (await health()).workers[0]!.pid;
    assert.ok(victim > 0);
    process.kill(victim, 'SIGSTOP'); // stuck first, so that the 0 is seen before the pool respawns it
    const stuck = await scrape(b2bua);
    promtoolCheck(stuck);
    assert.equal(sample(stuck, 'b2bua_media_worker_up{worker="0"}'), 0);
    process.kill(victim, 'SIGKILL');
    const back = await waitUntil('a respawned media worker up in /metrics', async () => {
      const text = await scrape(b2bua);
      return sample(text, 'b2bua_media_worker_up{worker="0"}') === 1 && (await health()).workers[0]!.pid !== victim ? text : undefined;
    }, 15000, 200);
    promtoolCheck(back);
    assert.equal(sample(back, 'b2bua_media_worker_restarts_total'), 1);
  });
});

describe('/metrics: SRTP authentication failures (our SDES endpoints through trenscrypter)', function () {
  trenscrypterSuite(this, 60000);
  before(() => requireTools(['promtool']));

  it('a caller sending SRTP with a key other than the one it announced: b2bua_srtp_auth_failures_total{mode="sdes"} moves, and stays after the call', async () => {
    const suite = 'AES_CM_128_HMAC_SHA1_80';
    const { b2bua, callee, caller, target } = await setUp({ name: 'metrics-srtp-bad-key', callee: sdes(suite), policy: { enc: ['sdes', 'sip:bob@.*'], srtp: [suite, 'sip:bob@.*'] } });
    const a = await placeCall(caller, target('bob'), sdes(suite), { frequency: 440 });
    const b = [...callee.calls.values()][0]!;
    a.media.sendKey(newCrypto(a.local!.tag, suite)); // same tag and suite, another key: every packet fails authentication
    await sleep(1500);
    const during = await scrape(b2bua);
    promtoolCheck(during);
    const failuresDuring = sample(during, 'b2bua_srtp_auth_failures_total{mode="sdes"}') ?? 0;
    assert.ok(failuresDuring > 20, `auth failures during the call: ${failuresDuring}`);
    assert.equal(sample(during, 'b2bua_media_sessions{worker="0",mode="sdes"}'), 1, during);
    a.media.stop();
    b.media.stop();
    await a.dialog.bye();
    await b.dialog.waitEnded(5000);
    await b2bua.waitForCounters(['calls', 'mediaSessions'], 10000);
    const after = await scrape(b2bua);
    promtoolCheck(after);
    assert.ok((sample(after, 'b2bua_srtp_auth_failures_total{mode="sdes"}') ?? 0) >= failuresDuring, 'the total does not go down when the call ends');
    assert.equal(sample(after, 'b2bua_srtp_auth_failures_total{mode="dtls-srtp"}'), 0);
  });
});

describe('/metrics: sip-bridge gauges (plugin metrics channel)', function () {
  this.timeout(45000);
  before(() => requireTools(['sipp', 'promtool']));
  afterEach(function (this: Context) {
    if (this.currentTest?.state === 'failed' && bridge) console.log(`--- b2bua log tail:\n${bridge.logTail(30)}`);
  });
  after(() => stopAllStarted());
  let bridge: B2buaDaemon | undefined;

  it('registrations{state} and free_lines{pool} of a registered account: registered 1, failed 0, one free slot; its REGISTERs counted', async () => {
    const env = await startBridgeEnv({ runDir: createRunDir('metrics-sip-bridge'), accountSecret: ITSP_PASSWORD, itspCalls: 2, maxSeconds: 40 });
    bridge = env.b2bua;
    await waitForRegistration(env.b2bua, 'registered', 10000);
    const text = await scrape(env.b2bua);
    promtoolCheck(text);
    assert.equal(sample(text, 'b2bua_plugin_sip_bridge_registrations{state="registered"}'), 1, text);
    assert.equal(sample(text, 'b2bua_plugin_sip_bridge_registrations{state="failed"}'), 0);
    assert.equal(sample(text, 'b2bua_plugin_sip_bridge_free_lines{pool="itsp"}'), 1);
    assert.ok((sample(text, 'b2bua_sip_requests_total{method="REGISTER",transport="udp",direction="out"}') ?? 0) >= 2, 'REGISTER, then with credentials');
    assert.equal(sample(text, 'b2bua_sip_responses_total{code="401",method="REGISTER",transport="udp",direction="in"}'), 1);
  });
});

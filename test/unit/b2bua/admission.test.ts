/**
 * Admission control (core/b2bua/admission.ts): while every media worker is over a bound, a new INVITE is answered 503 with
 * Retry-After before any call exists (leg B never sent), counted in /counters and /metrics, its reason phrase the generic one (the
 * bound's key and value only in the log line); back under the bounds, calls go through.
 * The rule on load snapshots, the log throttle, then the server on loopback: the relay engine reporting the load a
 * worker pool would (load() is what the gstreamer engine reads from its worker channels), a raw caller and a raw proxy.
 */
import assert from 'node:assert/strict';
import { Admission, OVERLOAD_RETRY_AFTER_S, overload, type AdmissionBounds } from '../../../core/b2bua/admission.js';
import { createB2buaServer } from '../../../core/b2bua/index.js';
import { silentLogger } from '../../../core/log/index.js';
import { createMetrics } from '../../../core/metrics/index.js';
import { createRelayEngine } from '../../../core/media/relay/index.js';
import type { MediaEngine, MediaLoad } from '../../../core/media/types.js';
import type { Logger } from '../../../core/vocabulary/index.js';
import { createHooks } from '../../../core/plugin-api/index.js';
import { freePort } from '../../harness/ports.js';
import { closedAfterEach, rawInvite, testConfig, udpPeer } from './helpers.js';

const BOUNDS: AdmissionBounds = { maxPendingSetups: 4, maxSetupLatencyMs: 1000, maxSessionsPerWorker: 0 };
const idle = { alive: true, pending: 0, latencyMs: 0, sessions: 0 };
const full = { alive: true, pending: 4, latencyMs: 0, sessions: 0 };

describe('b2bua admission control: the rule', () => {
  it('refuses only when every live worker is over a bound (queue, latency or session cap)', () => {
    assert.match(overload({ workers: [full, { ...idle, latencyMs: 1500 }] }, BOUNDS) ?? '', /4 requests waiting.*answers in 1500 ms/);
    assert.equal(overload({ workers: [full, idle] }, BOUNDS), undefined);
    assert.equal(overload({ workers: [full, { ...full, alive: false, pending: 0 }] }, BOUNDS) === undefined, false, 'a dead worker does not admit');
    assert.equal(overload({ workers: [{ ...idle, pending: 3, latencyMs: 999 }] }, BOUNDS), undefined);
    assert.match(overload({ workers: [{ ...idle, sessions: 10 }] }, { ...BOUNDS, maxSessionsPerWorker: 10 }) ?? '', /10 sessions/);
    assert.equal(overload({ workers: [{ ...idle, sessions: 10 }] }, BOUNDS), undefined, '0 = no session cap');
    assert.equal(overload({ workers: [{ ...full, pending: 100, latencyMs: 1e6 }] }, { maxPendingSetups: 0, maxSetupLatencyMs: 0, maxSessionsPerWorker: 0 }), undefined);
    assert.equal(overload({ workers: [] }, BOUNDS), undefined);
  });

  it('logs at most once per second however many calls it refuses', () => {
    const warned: Record<string, unknown>[] = [];
    const log = { ...silentLogger(), warn: (o: Record<string, unknown>) => { warned.push(o); } };
    let now = 10_000;
    const media = { load: (): MediaLoad => ({ workers: [full] }) } as unknown as MediaEngine;
    const admission = new Admission(media, BOUNDS, log, () => now);
    for (let i = 0; i < 50; i++) { assert.ok(admission.check()); now += 10; }
    assert.equal(warned.length, 1);
    for (let i = 0; i < 60; i++) { assert.ok(admission.check()); now += 10; }
    assert.equal(warned.length, 2);
    assert.equal(warned[1]!['refused'], 100, 'the second line counts the calls refused since the first');
    assert.equal(admission.refused, 110);
  });
});

describe('b2bua admission control: the server', () => {
  const opened = closedAfterEach();

  it('queue full: 503 with Retry-After, leg B never sent, counted; queue back under the bound: the next call reaches leg B', async () => {
    const port = await freePort();
    const proxy = await udpPeer(port);
    const caller = await udpPeer(port);
    opened.peers.push(proxy, caller);
    const config = testConfig({ transport: `sip:127.0.0.1:${port};transport=udp`, outboundProxy: `sip:127.0.0.1:${proxy.port};transport=udp`, mediaMaxPendingSetups: 4, mediaMaxSetupLatency: 1000 });
    let load: MediaLoad = { workers: [full, { ...full, pending: 9 }] };
    const media = Object.assign(await createRelayEngine(config, silentLogger()), { load: () => load });
    opened.engines.push(media);
    const warned: Record<string, unknown>[] = [];
    const log = Object.assign(Object.create(silentLogger()) as Logger, { warn: (o: Record<string, unknown>) => { warned.push(o); } });
    const server = createB2buaServer({ config, hooks: createHooks(), log, media, version: '9.9.9' });
    opened.open.push(server);
    await server.start();
    const metrics = createMetrics(server);

    const refusedCall = caller.expect(/^SIP\/2\.0 503 /);
    caller.send(rawInvite(caller.port));
    const res = await refusedCall;
    assert.match(res, new RegExp(`^Retry-After: ${OVERLOAD_RETRY_AFTER_S}\\s*$`, 'im'));
    assert.match(res, /^SIP\/2\.0 503 Service Unavailable\r$/m, 'the reason phrase is the generic one');
    assert.doesNotMatch(res, /media-max-|overloaded|requests waiting/, 'nothing of our configuration or load in the response');
    assert.equal(warned[0]?.['code'], 'B2BUA_MEDIA_OVERLOADED');
    assert.match(String(warned[0]?.['problem']), /worker 0: 4 requests waiting \(media-max-pending-setups=4\)/, 'the log line names the bound for the operator');
    assert.equal(server.counters().mediaOverloadRefused, 1);
    assert.equal(server.counters().callsTotal, 0, 'no call was created');
    assert.match(await metrics.render(), /^b2bua_calls_refused_total\{reason="media_overloaded"\} 1$/m);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(proxy.received.filter((m) => m.startsWith('INVITE ')).length, 0, 'leg B was never sent');

    load = { workers: [full, { ...idle, pending: 3 }] };
    caller.send(rawInvite(caller.port));
    await proxy.expect(/^INVITE /, 3000);
    assert.equal(server.counters().mediaOverloadRefused, 1);
    assert.equal(server.counters().callsTotal, 1);
  });
});

/**
 * `enable-keepalive` ([b2bua-server], default true, as Flexisip): the daemon sends a CRLF keep-alive ("\r\n\r\n",
 * RFC 5626) every 30 s to the registrar its sip-bridge account REGISTERed with (liblinphone's period); with
 * `enable-keepalive=false`, none. Two daemons side by side against two sipp ITSPs (scenarios/sip-bridge/uas_itsp.xml),
 * what reaches each ITSP's SIP port read from a capture over 33 s after the account registered.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { startCapture, portsFilter } from '../../harness/capture.js';
import type { IpPacket } from '../../harness/pcap.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir } from '../../harness/run-dir.js';
import { requireTools } from '../../harness/tools.js';
import { ITSP_PASSWORD, startBridgeEnv, waitForRegistration, type BridgeEnv } from './bridge-env.js';

const WATCH_MS = 33_000;

function keepAlivesFrom(packets: readonly IpPacket[], env: BridgeEnv): IpPacket[] {
  return packets.filter((p) => p.protocol === 'udp' && p.srcPort === env.b2bua.port && p.dstPort === env.itsp.port && p.payload.toString('latin1') === '\r\n\r\n');
}

describe('enable-keepalive: CRLF keep-alives to the registrar (sip-bridge account)', function () {
  this.timeout(90_000);
  before(() => { requireTools(['sipp', 'dumpcap']); });
  afterEach(async () => { await stopAllStarted(); });

  it('every 30 s with the default (true), none with enable-keepalive=false', async () => {
    const start = async (name: string, settings: Record<string, boolean>): Promise<BridgeEnv> =>
      startBridgeEnv({ runDir: createRunDir(`keepalive-${name}`), accountSecret: ITSP_PASSWORD, itspCalls: 10, maxSeconds: 80, settings });
    const [on, off] = await Promise.all([start('default', {}), start('off', { 'enable-keepalive': false })]);
    await Promise.all([waitForRegistration(on.b2bua, 'registered', 10_000), waitForRegistration(off.b2bua, 'registered', 10_000)]);
    const captures = await Promise.all([on, off].map((env) =>
      startCapture(path.join(env.runDir, 'itsp.pcap'), portsFilter([env.itsp.port]), WATCH_MS / 1000 + 15)));
    await new Promise((r) => setTimeout(r, WATCH_MS));
    const [onPackets, offPackets] = await Promise.all(captures.map((c) => c.stop()));
    const onPings = keepAlivesFrom(onPackets!, on);
    const offPings = keepAlivesFrom(offPackets!, off);
    assert.ok(onPings.length >= 1, `default: a CRLF keep-alive from the daemon's port ${on.b2bua.port} to the registrar within ${WATCH_MS / 1000} s; got ${onPackets!.length} packets (${on.runDir})`);
    if (onPings.length >= 2) {
      const gap = onPings[1]!.time - onPings[0]!.time;
      assert.ok(gap >= 29 && gap <= 31, `keep-alives 30 s apart, got ${gap.toFixed(1)} s`);
    }
    assert.equal(offPings.length, 0, `enable-keepalive=false: no keep-alive (${off.runDir})`);
    await Promise.all([on.b2bua.stop(), off.b2bua.stop()]);
  });
});

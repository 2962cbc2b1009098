/**
 * TCP connection flood through the real daemon with its default bounds: 1,000 connections from 127.0.0.1 that send
 * nothing are closed beyond max-connections-per-address (64), while OPTIONS over UDP and over TCP from 127.0.0.2
 * keep answering fast; /counters shows the refusals; once the attacker leaves, the daemon's RSS comes back.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir } from '../../harness/run-dir.js';
import { sleep, waitUntil } from '../../harness/wait.js';
import { percentile, rssMb, tcpPeer, udpPeer } from './raw-sip.js';

const FLOOD = 1000;
const DEFAULT_PER_ADDRESS = 64;
const PROBES = 20;

interface Flooded { readonly socket: net.Socket; closed: boolean }

/** Opens `n` connections from 127.0.0.1 in batches (the listen backlog is finite); resolves once each connected or failed. */
async function flood(port: number, n: number): Promise<Flooded[]> {
  const out: Flooded[] = [];
  for (let i = 0; i < n; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => new Promise<void>((resolve) => {
      const f: Flooded = { socket: net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1' }), closed: false };
      out.push(f);
      f.socket.on('error', () => undefined);
      f.socket.once('close', () => { f.closed = true; resolve(); });
      f.socket.once('connect', () => resolve());
      f.socket.resume();
    })));
    await sleep(20);
  }
  return out;
}

describe('security: TCP connection flood through the daemon (default bounds)', function () {
  this.timeout(90_000);
  let b2bua: B2buaDaemon | undefined;
  const flooded: Flooded[] = [];

  after(async () => {
    for (const f of flooded) f.socket.destroy();
    await stopAllStarted();
  });

  it(`${FLOOD} idle connections from one address: all but ${DEFAULT_PER_ADDRESS} closed, OPTIONS over UDP and TCP (127.0.0.2) answered, p50 < 10 ms`, async () => {
    const runDir = createRunDir('tcp-bounds');
    const [port] = await freePorts(1);
    // No transport parameter: UDP and TCP on the same port; no bound key set, so the defaults are what is tested.
    b2bua = await startB2bua({ runDir, outboundProxy: 'sip:127.0.0.1:9;transport=udp', settings: { transport: `sip:127.0.0.1:${port}` } });
    const udp = await udpPeer(port!);
    const tcp = await tcpPeer(port!, '127.0.0.2');
    try {
      for (let i = 0; i < 5; i++) { await udp.ask('OPTIONS'); await tcp.ask('OPTIONS'); } // warm-up
      const rssBefore = rssMb(b2bua.process.pid);

      const flooding = flood(port!, FLOOD).then((f) => { flooded.push(...f); });
      const udpMs: number[] = [];
      const tcpMs: number[] = [];
      for (let i = 0; i < PROBES; i++) {
        const u = await udp.ask('OPTIONS');
        assert.match(u.response, /^SIP\/2\.0 200 /);
        udpMs.push(u.ms);
        const t = await tcp.ask('OPTIONS');
        assert.match(t.response, /^SIP\/2\.0 200 /);
        tcpMs.push(t.ms);
        await sleep(25);
      }
      await flooding;
      const held = await waitUntil(`the daemon to close all but ${DEFAULT_PER_ADDRESS} connections`, () => {
        const open = flooded.filter((f) => !f.closed).length;
        return open <= DEFAULT_PER_ADDRESS ? open : undefined;
      }, 10_000, 100);
      await sleep(500);
      const stillOpen = flooded.filter((f) => !f.closed).length;
      const c = await b2bua.waitUntilCounters('the refusals counted', (x) => x.sipConnections.refusedPerAddress >= FLOOD - DEFAULT_PER_ADDRESS, 5000);
      const rssFlood = rssMb(b2bua.process.pid);

      const report = {
        udp: { p50: percentile(udpMs, 50), p99: percentile(udpMs, 99) },
        tcp127002: { p50: percentile(tcpMs, 50), p99: percentile(tcpMs, 99) },
        held, stillOpen, sipConnections: c.sipConnections, rssBeforeMb: rssBefore, rssFloodMb: rssFlood,
      };
      console.log(`      tcp-bounds: ${JSON.stringify(report)}`);
      assert.equal(stillOpen, DEFAULT_PER_ADDRESS, `exactly max-connections-per-address connections from 127.0.0.1 stay open\n${JSON.stringify(report)}`);
      assert.equal(c.sipConnections.refusedPerAddress, FLOOD - DEFAULT_PER_ADDRESS);
      assert.equal(c.sipConnections.maxFromOneAddress, DEFAULT_PER_ADDRESS);
      assert.equal(c.sipConnections.open, DEFAULT_PER_ADDRESS + 1, 'the 64 from 127.0.0.1 and the probe from 127.0.0.2');
      assert.ok(report.udp.p50 < 10, `OPTIONS over UDP p50 ${report.udp.p50.toFixed(2)} ms during the flood`);
      assert.ok(report.tcp127002.p50 < 10, `OPTIONS over TCP from 127.0.0.2 p50 ${report.tcp127002.p50.toFixed(2)} ms during the flood`);

      for (const f of flooded) f.socket.destroy();
      await b2bua.waitUntilCounters('the flood connections gone', (x) => x.sipConnections.open === 1, 5000);
      await sleep(1000);
      const rssAfter = rssMb(b2bua.process.pid);
      console.log(`      tcp-bounds: RSS before ${rssBefore.toFixed(1)} MB, during ${rssFlood.toFixed(1)} MB, after ${rssAfter.toFixed(1)} MB`);
      assert.ok(rssAfter < rssBefore + 30, `RSS after the flood ${rssAfter.toFixed(1)} MB, before ${rssBefore.toFixed(1)} MB`);
      assert.match((await tcp.ask('OPTIONS')).response, /^SIP\/2\.0 200 /, 'the 127.0.0.2 connection still served');
      await b2bua.stop();
    } finally {
      udp.close();
      tcp.close();
    }
  });
});

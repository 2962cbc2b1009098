/**
 * Media engine benchmark: N concurrent SDES -> SDES sessions (leg A AES_CM_128_HMAC_SHA1_80,
 * leg B AES_CM_128_HMAC_SHA1_32), 50 packets/s each way per session, on loopback, through the
 * GStreamer engine's worker processes. Prints one JSON object per level:
 *   workers' CPU (% of one core, summed), RSS and threads, packets delivered.
 *
 *   npx tsx bench/media.ts                 # levels 50 100 200, 5 s each
 *   BENCH_LEVELS=50,100 BENCH_SECONDS=10 MEDIA_WORKERS=2 npx tsx bench/media.ts
 *
 * The load generator runs in this process on the same cores (SRTP packets are encrypted before
 * the measured window; 1 packet in 25 is decrypted at the far end to check the transcoding).
 */
import dgram from 'node:dgram';
import os from 'node:os';
import { parseConfigText } from '../core/config/load.js';
import { createGstEngine } from '../core/media/gst/index.js';
import { silentLogger } from '../core/log/index.js';
import { generateSrtpKey } from '../core/media/sdes.js';
import type { MediaSession, SrtpKey, StreamParams } from '../core/media/types.js';
import { SrtpContext } from '../test/e2e/media/srtp-peer.js';
import { mediaWorkers } from './worker-procs.js';

const LEVELS = (process.env['BENCH_LEVELS'] ?? '50,100,200').split(',').map(Number);
const SECONDS = Math.min(Number(process.env['BENCH_SECONDS'] ?? 5), 60);
const WORKERS = Number(process.env['MEDIA_WORKERS'] ?? 0);
const PPS = 50;
const SUITE_A = 'AES_CM_128_HMAC_SHA1_80' as const;
const SUITE_B = 'AES_CM_128_HMAC_SHA1_32' as const;
const CLK_TCK = 100;

function rtpPacket(seq: number, ssrc: number): Buffer {
  const b = Buffer.alloc(172, 0xd5);
  b[0] = 0x80;
  b[1] = 0;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

async function udp(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

interface Side { socket: dgram.Socket; enginePort: number; wire: Buffer[]; received: number; checked: number; authFailures: number; check: SrtpContext }

const streamTo = (socket: dgram.Socket, srtp: { send: SrtpKey; recv: SrtpKey }): StreamParams => ({
  index: 0, kind: 'audio', enabled: true, rtcpMux: true, direction: 'sendrecv', encryption: 'sdes', srtp,
  remote: { address: '127.0.0.1', rtpPort: socket.address().port, rtcpPort: socket.address().port },
});

async function level(n: number): Promise<Record<string, unknown>> {
  const engine = await createGstEngine(
    { ...parseConfigText('', 'bench.conf').config.server, transport: 'sip:127.0.0.1:5060', mediaWorkers: WORKERS },
    silentLogger(),
  );
  const sessions: MediaSession[] = [];
  const sides: Side[] = [];
  const packets = SECONDS * PPS;
  try {
    for (let i = 0; i < n; i++) {
      const session = await engine.createSession({ callId: `bench-${i}`, noRtpTimeoutMs: 30_000 });
      sessions.push(session);
      const legA = { send: generateSrtpKey(SUITE_A), recv: generateSrtpKey(SUITE_A) };
      const legB = { send: generateSrtpKey(SUITE_B), recv: generateSrtpKey(SUITE_B) };
      const [sa, sb] = [await udp(), await udp()];
      const ea = await session.allocate('a', 0, 'audio');
      const eb = await session.allocate('b', 0, 'audio');
      await session.configure('a', { streams: [streamTo(sa, legA)] });
      await session.configure('b', { streams: [streamTo(sb, legB)] });
      // Each side encrypts with what the engine decrypts on its leg, and checks with what it encrypts.
      const encA = new SrtpContext(SUITE_A, legA.recv.keySalt);
      const encB = new SrtpContext(SUITE_B, legB.recv.keySalt);
      const a: Side = { socket: sa, enginePort: ea.rtpPort, wire: [], received: 0, checked: 0, authFailures: 0, check: new SrtpContext(SUITE_A, legA.send.keySalt) };
      const b: Side = { socket: sb, enginePort: eb.rtpPort, wire: [], received: 0, checked: 0, authFailures: 0, check: new SrtpContext(SUITE_B, legB.send.keySalt) };
      for (let k = 0; k < packets; k++) {
        a.wire.push(encA.protectRtp(rtpPacket(k, 0xa0000 + i)));
        b.wire.push(encB.protectRtp(rtpPacket(k, 0xb0000 + i)));
      }
      for (const side of [a, b]) {
        side.socket.on('message', (m) => {
          if (side.received++ % 25 !== 0) return;
          side.checked++;
          try {
            side.check.unprotectRtp(m);
          } catch {
            side.authFailures++;
          }
        });
      }
      sides.push(a, b);
    }
    const before = mediaWorkers();
    const t0 = process.hrtime.bigint();
    const start = Date.now();
    for (let k = 0; k < packets; k++) {
      const due = start + (k * 1000) / PPS;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      for (const s of sides) s.socket.send(s.wire[k]!, s.enginePort, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 300));
    const elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
    const after = mediaWorkers();
    const cpuTicks = after.reduce((t, p) => t + p.ticks - (before.find((q) => q.pid === p.pid)?.ticks ?? p.ticks), 0);
    const sent = sides.length * packets;
    const delivered = sides.reduce((t, s) => t + s.received, 0);
    const stats = await Promise.all(sessions.map((s) => s.stats()));
    const engineAuthFailures = stats.reduce((t, st) => t + st.a[0]!.srtpAuthFailures + st.b[0]!.srtpAuthFailures, 0);
    return {
      sessions: n,
      workers: after.length,
      seconds: Number(elapsedS.toFixed(2)),
      packetsPerSecondEachWay: PPS,
      sent,
      delivered,
      deliveredPct: Number(((100 * delivered) / sent).toFixed(2)),
      workerCpuPctOfOneCore: Number(((100 * cpuTicks) / CLK_TCK / elapsedS).toFixed(1)),
      workerRssMB: Number((after.reduce((t, p) => t + p.rssKb, 0) / 1024).toFixed(1)),
      workerThreads: after.reduce((t, p) => t + p.threads, 0),
      farEndChecked: sides.reduce((t, s) => t + s.checked, 0),
      farEndAuthFailures: sides.reduce((t, s) => t + s.authFailures, 0),
      engineAuthFailures,
      cores: os.availableParallelism(),
    };
  } finally {
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    for (const s of sides) s.socket.close();
    await engine.close();
  }
}

for (const n of LEVELS) {
  if (!Number.isInteger(n) || n <= 0 || n > 1000) throw new Error(`BENCH_LEVELS: ${n} is not a session count in 1..1000`);
  console.log(JSON.stringify(await level(n)));
}

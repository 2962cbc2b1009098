/**
 * Issue 11: what one call leaves behind in the main process. The real server object on loopback (no daemon), wired as
 * core/daemon/run.ts wires it (MediaTotals on the engine, /metrics on the SIP wire hook and the server's counters, a CDR
 * sink on hooks.callRecord), a raw UDP caller and callee in this process; N sequential calls INVITE → leg B INVITE →
 * 200 → ACK → BYE. At 1,000 calls and at the end: wait for the transactions and timers to drain (UDP: Timer J keeps
 * a BYE server transaction 32 s), force GC, read the heap. Growth per call = (heap at the end − heap at 1,000) / (N − 1,000).
 *
 *   npx tsx --expose-gc bench/call-footprint.ts [--calls 10000] [--media relay|none] [--deadline-s 300] [--snapshots]
 *
 * Then 500 calls held established at once: inProgress.heapBytesPerCall, the footprint of a call in progress.
 * --media relay: the plain RTP relay (4 UDP sockets per call, no packets); none: a stub engine opening no socket (signalling only).
 *
 * With a growth above 200 B/call (or --snapshots), after the measurements: a heap snapshot, 1,000 more calls, another,
 * and the top 10 node names (constructors) whose object count grew (--snapshots keeps the files). Prints one JSON object.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { randomBytes } from 'node:crypto';
import { createB2buaServer } from '../core/b2bua/index.js';
import { createCdrSink } from '../core/cdr/index.js';
import { parseConfigText } from '../core/config/load.js';
import { silentLogger } from '../core/log/index.js';
import { createRelayEngine } from '../core/media/relay/index.js';
import type { MediaEngine } from '../core/media/types.js';
import { createMetrics, MediaTotals } from '../core/metrics/index.js';
import { createHooks, type B2buaServerConfig } from '../core/plugin-api/index.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const CALLS = Number(arg('calls', '2000'));
const MEDIA = arg('media', 'relay');
const DEADLINE = Date.now() + Number(arg('deadline-s', '300')) * 1000;
const WARMUP = Math.min(1000, Math.floor(CALLS / 2));
const SNAPSHOTS = process.argv.includes('--snapshots');
const GROWTH_FOR_SNAPSHOTS = 200;
const EXTRA = 1000;
const HOLD = 500;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with --expose-gc: npx tsx --expose-gc bench/call-footprint.ts');
  process.exit(2);
}

const tok = (): string => randomBytes(6).toString('hex');
const header = (msg: string, name: string): string => new RegExp(`^${name}:\\s*(.*?)\\s*$`, 'im').exec(msg)?.[1] ?? '';
const SDP = (port: number): string => `v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;

/** A UDP SIP endpoint that hands each message to `on` (nothing kept). */
async function endpoint(on: (msg: string, reply: (text: string) => void) => void): Promise<{ port: number; send: (text: string, port: number) => void; close: () => void }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  socket.on('message', (m, rinfo) => on(m.toString('utf8'), (text) => socket.send(text, rinfo.port, rinfo.address)));
  return { port: socket.address().port, send: (text, port) => socket.send(text, port, '127.0.0.1'), close: () => socket.close() };
}

function response(req: string, status: string, extra: string[] = [], body = ''): string {
  const vias = req.split('\r\n').filter((l) => /^Via:/i.test(l));
  const toTag = /;tag=/.test(header(req, 'To')) ? '' : `;tag=${tok()}`;
  return [`SIP/2.0 ${status}`, ...vias, `From: ${header(req, 'From')}`, `To: ${header(req, 'To')}${toTag}`, `Call-ID: ${header(req, 'Call-ID')}`,
    `CSeq: ${header(req, 'CSeq')}`, ...extra, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  // The callee: 200 with an answer to INVITE, 200 to BYE, nothing to ACK.
  const callee = await endpoint((msg, reply) => {
    if (msg.startsWith('INVITE ')) reply(response(msg, '200 OK', [`Contact: <sip:bob@127.0.0.1:${callee.port}>`, 'Content-Type: application/sdp'], SDP(41000)));
    else if (msg.startsWith('BYE ')) reply(response(msg, '200 OK'));
  });
  const waiting = new Map<string, (msg: string) => void>();
  const caller = await endpoint((msg) => {
    if (!msg.startsWith('SIP/2.0 ')) return;
    if (/^SIP\/2\.0 1\d\d/.test(msg)) return;
    const key = `${header(msg, 'Call-ID')}|${header(msg, 'CSeq')}`;
    waiting.get(key)?.(msg);
  });

  const defaults = parseConfigText('', 'bench.conf').config.server;
  const config: B2buaServerConfig = Object.freeze({
    ...defaults, application: 'bench', transport: 'sip:127.0.0.1:0;transport=udp', outboundProxy: `sip:127.0.0.1:${callee.port};transport=udp`,
    audioPort: { min: 0, max: 0 }, videoPort: { min: 0, max: 0 }, maxCallDuration: 0, maxCalls: 0, natAddresses: [], dataDirectory: os.tmpdir(),
  });
  const log = silentLogger();
  const media: MediaEngine = MEDIA === 'relay' ? await createRelayEngine(config, log) : signallingOnly();
  const mediaTotals = new MediaTotals();
  mediaTotals.track(media);
  const hooks = createHooks();
  const cdrFile = path.join(os.tmpdir(), `call-footprint-${process.pid}.cdr`);
  const cdr = createCdrSink({ file: cdrFile, maxSize: 1_000_000, keep: 1 }, log);
  hooks.callRecord.tap('cdr', (record) => cdr.write(record));
  const server = createB2buaServer({ config, hooks, log, media, version: '0.0.0' });
  const metrics = createMetrics(server, { mediaCounters: () => media.counters(), media: mediaTotals, sip: server.stack });
  const { transports } = await server.start();
  const serverPort = Number(/:(\d+);/.exec(transports[0]!)![1]);

  const await2 = (callId: string, cseq: string, ms = 5000): Promise<string> => new Promise((resolve, reject) => {
    const key = `${callId}|${cseq}`;
    const timer = setTimeout(() => { waiting.delete(key); reject(new Error(`no final response to ${cseq} of ${callId}`)); }, ms);
    waiting.set(key, (msg) => { clearTimeout(timer); waiting.delete(key); resolve(msg); });
  });

  let failed = 0;
  /** One call set up; `hold`: left established, its BYE returned for later. */
  async function oneCall(hold = false): Promise<(() => Promise<void>) | undefined> {
    const callId = tok();
    const fromTag = tok();
    const via = (): string => `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK${tok()};rport`;
    const common = [`From: <sip:alice@127.0.0.1>;tag=${fromTag}`, `Call-ID: ${callId}`, 'Max-Forwards: 70'];
    const offer = SDP(40000);
    const ok = await2(callId, '1 INVITE');
    caller.send([`INVITE sip:bob@127.0.0.1:${serverPort} SIP/2.0`, via(), ...common, 'To: <sip:bob@127.0.0.1>', 'CSeq: 1 INVITE',
      `Contact: <sip:alice@127.0.0.1:${caller.port}>`, 'Content-Type: application/sdp', `Content-Length: ${offer.length}`, '', offer].join('\r\n'), serverPort);
    const answer = await ok;
    if (!answer.startsWith('SIP/2.0 200')) { failed++; return undefined; }
    const to = `To: ${header(answer, 'To')}`;
    caller.send([`ACK sip:b2bua@127.0.0.1:${serverPort} SIP/2.0`, via(), ...common, to, 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n'), serverPort);
    const hangUp = async (): Promise<void> => {
      const bye = await2(callId, '2 BYE');
      caller.send([`BYE sip:b2bua@127.0.0.1:${serverPort} SIP/2.0`, via(), ...common, to, 'CSeq: 2 BYE', 'Content-Length: 0', '', ''].join('\r\n'), serverPort);
      if (!(await bye).startsWith('SIP/2.0 200')) failed++;
    };
    if (hold) return hangUp;
    await hangUp();
    return undefined;
  }

  /** Transactions and timers back to zero (bounded), the calls gone, then GC: the heap that calls left behind. */
  interface Memory { heapUsedKB: number; rssKB: number; heapTotalKB: number; externalKB: number; arrayBuffersKB: number; transactions: number; timers: number; calls: number }
  async function settled(expectCalls = 0): Promise<Memory> {
    const until = Math.min(DEADLINE, Date.now() + 40_000);
    for (;;) {
      const c = server.counters();
      if ((c.transactions === 0 && (expectCalls > 0 || c.timers === 0) && c.calls === expectCalls) || Date.now() > until) break; // held calls keep their timers
      await new Promise((r) => setTimeout(r, 200));
    }
    await metrics.render(); // a scrape, as the daemon gets them
    for (let i = 0; i < 4; i++) { gc!(); await new Promise((r) => setImmediate(r)); }
    const m = process.memoryUsage();
    const c = server.counters();
    return { heapUsedKB: Math.round(m.heapUsed / 1024), heapTotalKB: Math.round(m.heapTotal / 1024), rssKB: Math.round(m.rss / 1024),
      externalKB: Math.round(m.external / 1024), arrayBuffersKB: Math.round(m.arrayBuffers / 1024), transactions: c.transactions, timers: c.timers, calls: c.calls };
  }

  let done = 0;
  /** RSS and V8's heapTotal every 1,000 calls (no GC, no settling): linear, or a plateau; the V8 heap's share. */
  const rssTrace: number[] = [];
  const heapTotalTrace: number[] = [];
  const run = async (upTo: number): Promise<void> => {
    while (done < upTo && Date.now() < DEADLINE) {
      try { await oneCall(); } catch { failed++; }
      done++;
      if (done % 1000 === 0) {
        const m = process.memoryUsage();
        rssTrace.push(Math.round(m.rss / 1024));
        heapTotalTrace.push(Math.round(m.heapTotal / 1024));
      }
    }
  };
  const fds = (): number => { try { return fs.readdirSync('/proc/self/fd').length; } catch { return -1; } };
  await run(WARMUP);
  const warm = await settled();
  const fdsWarm = fds();
  const heapStatsWarm = v8.getHeapStatistics();
  const runStart = Date.now();
  await run(CALLS);
  const callsPerSecond = Math.round(((done - WARMUP) * 1000) / Math.max(1, Date.now() - runStart));
  const end = await settled();
  const measuredCalls = done;
  const rssEvery1000KB = [...rssTrace];
  const heapTotalEvery1000KB = [...heapTotalTrace];
  const fdsAtEnd = fds();
  const heapStatsEnd = v8.getHeapStatistics();
  const bytesPerCall = done > WARMUP ? Math.round(((end.heapUsedKB - warm.heapUsedKB) * 1024) / (done - WARMUP)) : 0;
  // What grows: heap snapshots before and after EXTRA more calls (after the measurements: a snapshot inflates the RSS).
  let retained: { name: string; grew: number; before: number; after: number }[] | undefined;
  const snapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'call-footprint-'));
  if ((SNAPSHOTS || bytesPerCall > GROWTH_FOR_SNAPSHOTS) && Date.now() < DEADLINE) {
    const before = v8.writeHeapSnapshot(path.join(snapDir, `at${done}.heapsnapshot`));
    await run(done + EXTRA);
    await settled();
    const after = v8.writeHeapSnapshot(path.join(snapDir, `at${done}.heapsnapshot`));
    retained = compare(countByName(before), countByName(after));
  }
  // The footprint of a call in progress: HOLD calls established at once (their transactions gone), against the settled heap.
  const hung: (() => Promise<void>)[] = [];
  for (let i = 0; i < HOLD && Date.now() < DEADLINE; i++) {
    try { const h = await oneCall(true); if (h) hung.push(h); } catch { failed++; }
  }
  const holding = await settled(hung.length);
  for (const h of hung) { try { await h(); } catch { failed++; } }
  const afterHold = await settled();
  await server.close();
  await media.close();
  await cdr.close();
  caller.close();
  callee.close();
  fs.rmSync(cdrFile, { force: true });
  if (!SNAPSHOTS) fs.rmSync(snapDir, { recursive: true, force: true });
  console.log(JSON.stringify({
    calls: measuredCalls, failed, media: MEDIA, warmupCalls: WARMUP, callsPerSecond,
    heapUsedKB: { [`at${WARMUP}`]: warm.heapUsedKB, atEnd: end.heapUsedKB },
    heapTotalKB: { [`at${WARMUP}`]: warm.heapTotalKB, atEnd: end.heapTotalKB },
    bytesPerCall,
    inProgress: { calls: hung.length, heapBytesPerCall: Math.round(((holding.heapUsedKB - afterHold.heapUsedKB) * 1024) / Math.max(1, hung.length)),
      externalBytesPerCall: Math.round(((holding.externalKB - afterHold.externalKB) * 1024) / Math.max(1, hung.length)), heapUsedKBAfterHangUp: afterHold.heapUsedKB },
    rssKB: { [`at${WARMUP}`]: warm.rssKB, atEnd: end.rssKB },
    externalKB: { [`at${WARMUP}`]: warm.externalKB, atEnd: end.externalKB },
    arrayBuffersKB: { [`at${WARMUP}`]: warm.arrayBuffersKB, atEnd: end.arrayBuffersKB },
    rssEvery1000KB,
    heapTotalEvery1000KB,
    openFds: { [`at${WARMUP}`]: fdsWarm, atEnd: fdsAtEnd },
    v8: { usedHeapSizeKB: [heapStatsWarm.used_heap_size >> 10, heapStatsEnd.used_heap_size >> 10], mallocedMemoryKB: [heapStatsWarm.malloced_memory >> 10, heapStatsEnd.malloced_memory >> 10] },
    leftAtEnd: { transactions: end.transactions, timers: end.timers, calls: end.calls, mediaSessions: media.counters().sessions },
    ...(retained ? { retainedOver: `${EXTRA} more calls`, retained, snapshots: SNAPSHOTS ? snapDir : undefined } : {}),
    seconds: Math.round((Date.now() - started) / 1000),
    deadlineHit: Date.now() >= DEADLINE,
  }, null, 1));
}

/** `--media none`: sessions that answer with fixed ports and open no socket, so that a call is its signalling only. */
function signallingOnly(): MediaEngine {
  let open = 0;
  const endpoint = { address: '127.0.0.1', rtpPort: 9, rtcpPort: 10 };
  return {
    name: 'none', capabilities: { encryption: ['none'], srtpSuites: [] }, counters: () => ({ sessions: open, portsInUse: 0 }), close: () => Promise.resolve(),
    createSession: (options) => {
      open++;
      let closed = false;
      const stats = { a: [], b: [] };
      return Promise.resolve({
        id: `none-${options.callId}`, allocate: () => Promise.resolve(endpoint), configure: () => Promise.resolve(), stats: () => Promise.resolve(stats),
        onEvent: () => undefined, close: () => { if (!closed) { closed = true; open--; } return Promise.resolve(stats); },
      });
    },
  };
}

/** Object counts by node name (constructor for objects) in a .heapsnapshot file. */
function countByName(file: string): Map<string, number> {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const types = snap.snapshot.meta.node_types[0];
  const counts = new Map<string, number>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const name = type === 'object' || type === 'closure' ? snap.strings[snap.nodes[i + nameAt]!]! : `(${type})`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

function compare(a: Map<string, number>, b: Map<string, number>): { name: string; grew: number; before: number; after: number }[] {
  return [...b].map(([name, n]) => ({ name, grew: n - (a.get(name) ?? 0), before: a.get(name) ?? 0, after: n }))
    .filter((r) => r.grew > 0).sort((x, y) => y.grew - x.grew).slice(0, 10);
}

await main();

/**
 * rtpengine (Debian rtpengine-daemon, userspace only: --table=-1) on loopback, one thread, pinned to the relay
 * core, driven by its ng protocol: one SDES -> SDES call per `call()` (leg A offers AES_CM_128_HMAC_SHA1_80; rtpengine
 * offers leg B all its suites and B answers AES_CM_128_HMAC_SHA1_32), the keys and ports parsed from the SDPs.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SrtpKey } from '../../core/media/types.js';
import { freePorts } from '../../test/harness/ports.js';
import { spawnManaged, type ManagedProcess } from '../../test/harness/processes.js';
import { tail } from '../../test/harness/run-dir.js';
import { waitForListening } from '../../test/harness/sipp.js';
import { NgClient, text } from './ng.js';
import { RELAY_CORE } from './procs.js';

export interface RtpengineCall {
  callId: string;
  /** rtpengine's media port towards leg A / leg B. */
  portA: number;
  portB: number;
  /** What rtpengine encrypts with towards A (in its answer to A) and towards B (in its offer to B). */
  keyToA: SrtpKey;
  keyToB: SrtpKey;
}

export interface Rtpengine {
  readonly process: ManagedProcess;
  readonly logFile: string;
  /** Sets up one call between endpoints listening on `portA` (sending with `sendA`, _80) and `portB` (sending with `sendB`, _32). */
  call(id: string, portA: number, sendA: SrtpKey, portB: number, sendB: SrtpKey): Promise<RtpengineCall>;
  delete(callId: string): Promise<void>;
  stop(): Promise<void>;
}

export function rtpengineMissing(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) if (fs.existsSync(path.join(dir, 'rtpengine'))) return undefined;
  return 'rtpengine is not installed (Debian package rtpengine-daemon: apt-get install rtpengine-daemon, or scripts/setup.sh)';
}

function sdp(port: number, proto: string, key: SrtpKey, tag = 1): string {
  return [
    'v=0', `o=bench ${port} 1 IN IP4 127.0.0.1`, 's=bench', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${port} ${proto} 0`, 'a=rtpmap:0 PCMU/8000', 'a=rtcp-mux', 'a=sendrecv', `a=crypto:${tag} ${key.suite} inline:${key.keySalt}`, '',
  ].join('\r\n');
}

/** The m=audio port of an SDP and its a=crypto keys, by suite. */
function parseSdp(text: string): { port: number; keys: (SrtpKey & { tag: number })[] } {
  const port = Number(/^m=audio (\d+) /m.exec(text)?.[1]);
  const keys = [...text.matchAll(/^a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)/gm)].map((c) => ({ tag: Number(c[1]), suite: c[2] as SrtpKey['suite'], keySalt: c[3]! }));
  return { port, keys };
}

/** The port and the `suite` key of an SDP of rtpengine's (`single`: the only a=crypto, as in an answer). */
function keyOf(text: string, what: string, suite: SrtpKey['suite'], single: boolean): { port: number; key: SrtpKey & { tag: number } } {
  const { port, keys } = parseSdp(text);
  const key = keys.find((k) => k.suite === suite);
  if (!port || !key || (single && keys.length !== 1)) {
    throw new Error(`rtpengine ${what}: expected an m=audio port and an a=crypto ${suite}, got port ${port} and [${keys.map((k) => k.suite).join(', ')}] in\n${text}`);
  }
  return { port, key };
}

export async function startRtpengine(runDir: string): Promise<Rtpengine> {
  const [ngPort] = await freePorts(1);
  const logFile = path.join(runDir, 'rtpengine.log');
  const args = [
    '-c', String(RELAY_CORE), 'rtpengine', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${ngPort}`, '--foreground', '--log-stderr',
    '--table=-1', '--num-threads=1', '--port-min=40000', '--port-max=59999', '--log-level=4', `--pidfile=${path.join(runDir, 'rtpengine.pid')}`,
  ];
  const proc = spawnManaged('rtpengine', 'taskset', args, { cwd: runDir, stdoutFile: logFile, maxMs: 20 * 60_000 });
  try {
    await Promise.race([
      waitForListening(ngPort!, 'udp', 10_000),
      proc.exited.then((s) => {
        throw new Error(`rtpengine exited during start-up (code ${s.code})`);
      }),
    ]);
  } catch (e) {
    await proc.stop(1000);
    throw new Error(`${(e as Error).message}\n${tail(logFile, 20)}`);
  }
  const ng = await NgClient.open(ngPort!);
  return {
    process: proc,
    logFile,
    async call(id, portA, sendA, portB, sendB) {
      const callId = `bench-${id}`;
      const offer = await ng.request({
        command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: sdp(portA, 'RTP/SAVP', sendA),
        'transport-protocol': 'RTP/SAVP', ICE: 'remove', 'rtcp-mux': ['accept'],
      });
      // rtpengine offers B every suite it has (each with its own key); B picks _32, as a phone configured for it would.
      const toB = keyOf(text(offer['sdp']), 'offer to B', sendB.suite, false);
      const answer = await ng.request({
        command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(portB, 'RTP/SAVP', sendB, toB.key.tag), ICE: 'remove',
      });
      const toA = keyOf(text(answer['sdp']), 'answer to A', sendA.suite, true);
      return { callId, portA: toA.port, portB: toB.port, keyToA: { suite: toA.key.suite, keySalt: toA.key.keySalt }, keyToB: { suite: toB.key.suite, keySalt: toB.key.keySalt } };
    },
    async delete(callId) {
      await ng.request({ command: 'delete', 'call-id': callId, 'from-tag': 'a' });
    },
    async stop() {
      ng.close();
      await proc.stop(3000, 'SIGTERM');
    },
  };
}

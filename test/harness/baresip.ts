/**
 * baresip (1.0.0, Debian's build) headless on loopback: own HOME and config folder (`-f`), SIP trace on stdout
 * (`-s`), no sound card (source `aufile` = an 8 kHz WAV, player `aubridge` = a null sink), received audio recorded
 * by the `sndfile` filter (`dump-<timestamp>-dec.wav`, `-enc.wav` = what it sent), driven through `ctrl_tcp`
 * (netstring-framed JSON) over ONE connection kept for the whole run: baresip 1.0.0 serves a single client and a
 * second connection silently steals the event stream.
 *
 * Learnt the hard way (see also the comments below): `net_interface lo` fails ("could not get network address"),
 * `127.0.0.1` works; baresip also opens a TLS listener on the SIP port + 1; `ausine` only runs at 48 kHz; sndfile
 * builds its dump paths in a 128-byte buffer, so `snd_path` must be short (a folder under /tmp, moved into the run
 * dir at quit); there is no ZRTP module in Debian's baresip. mediaenc: `srtp` = RTP/AVP + a=crypto (best effort),
 * `srtp-mand` = RTP/SAVP, `srtp-mandf` = RTP/SAVPF, `dtls_srtp` = UDP/TLS/RTP/SAVPF with fingerprint and setup at
 * session level.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { freePorts } from './ports.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import { readIfExists, StopWaiting, waitUntil } from './wait.js';

/** An account's `mediaenc` (none = the parameter left out: a plain-only peer that refuses SAVP offers with 488). */
export type BaresipEncryption = 'none' | 'srtp' | 'srtp-mand' | 'srtp-mandf' | 'dtls_srtp';

export interface BaresipOptions {
  readonly name: string;
  readonly runDir: string;
  /** The 8 kHz mono WAV it sends (aufile plays it once: make it longer than the call). */
  readonly sourceWav: string;
  readonly mediaEncryption?: BaresipEncryption;
  /** answermode=auto (default manual: an incoming call rings until `accept`). */
  readonly autoAnswer?: boolean;
  /** `rtcp_mux` of the config (default false, baresip's own default). */
  readonly rtcpMux?: boolean;
  readonly maxSeconds?: number;
}

/** One ctrl_tcp event, e.g. {event: true, class: "call", type: "CALL_ESTABLISHED", param: "...", peeruri: "..."}. */
export type BaresipEvent = Record<string, unknown> & { readonly type?: string; readonly param?: string; readonly _t: number };

export interface Baresip {
  readonly name: string;
  readonly sipPort: number;
  /** The first port of its RTP range (`rtp_ports`, RTP_PORT_COUNT ports): baresip picks its media ports in it. */
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
  readonly ctrlPort: number;
  readonly uri: string;
  readonly dir: string;
  /** stdout: the SIP trace (-s) and baresip's own messages. */
  readonly outFile: string;
  readonly process: ManagedProcess;
  /** Send a ctrl_tcp command ("dial", "hangup", "accept", "quit"...); resolves with the response, throws unless ok. */
  command(command: string, params?: string): Promise<Record<string, unknown>>;
  events(): readonly BaresipEvent[];
  /** Wait for an event of that type received after `since` (an index into events()). */
  waitForEvent(type: string, timeoutMs: number, since?: number): Promise<BaresipEvent>;
  output(): string;
  /** The newest recording of received audio (`dump-*-dec.wav`), or undefined. Complete once quit() returned. */
  receivedRecording(): string | undefined;
  /** `quit`, wait for the exit (SIGKILL after 8 s), move the recordings into the run dir. */
  quit(): Promise<void>;
}

export const RTP_PORT_COUNT = 10;

function config(o: BaresipOptions, sipPort: number, rtpMin: number, ctrlPort: number, sndPath: string): string {
  const lines: [string, string][] = [
    ['poll_method', 'epoll'],
    ['sip_listen', `127.0.0.1:${sipPort}`],
    ['call_local_timeout', '120'],
    ['call_max_calls', '4'],
    ['audio_player', `aubridge,null${sipPort}`], // an aubridge device nobody reads: a null sink
    ['audio_alert', `aubridge,null${sipPort}`],
    ['audio_source', `aufile,${o.sourceWav}`],
    ['rtp_ports', `${rtpMin}-${rtpMin + RTP_PORT_COUNT - 1}`],
    ['rtp_stats', 'yes'],
    ['rtcp_mux', o.rtcpMux ? 'yes' : 'no'],
    ['jitter_buffer_delay', '5-10'],
    ['net_interface', '127.0.0.1'], // "lo" fails: could not get network address
    ['module_path', '/usr/lib/baresip/modules'],
    ...(['g711', 'aubridge', 'aufile', 'sndfile', 'srtp', 'dtls_srtp'].map((m) => ['module', `${m}.so`] as [string, string])),
    ['module_tmp', 'uuid.so'],
    ['module_tmp', 'account.so'],
    ['module_app', 'menu.so'],
    ['module_app', 'ctrl_tcp.so'],
    ['snd_path', sndPath],
    ['ctrl_tcp_listen', `127.0.0.1:${ctrlPort}`],
  ];
  return lines.map(([k, v]) => `${k}\t\t${v}`).join('\n') + '\n';
}

/** Netstring frames `<len>:<bytes>,` -> the complete JSON objects, and what is left of `buf`. */
function parseNetstrings(buf: Buffer): { messages: Record<string, unknown>[]; rest: Buffer } {
  const messages: Record<string, unknown>[] = [];
  for (;;) {
    const colon = buf.indexOf(0x3a);
    if (colon < 0) break;
    const n = Number(buf.subarray(0, colon).toString('ascii'));
    if (!Number.isInteger(n)) throw new Error(`ctrl_tcp: bad netstring length "${buf.subarray(0, colon).toString('ascii')}"`);
    if (buf.length < colon + 2 + n) break;
    messages.push(JSON.parse(buf.subarray(colon + 1, colon + 1 + n).toString('utf8')) as Record<string, unknown>);
    buf = buf.subarray(colon + 2 + n);
  }
  return { messages, rest: buf };
}

const netstring = (obj: unknown): Buffer => {
  const b = Buffer.from(JSON.stringify(obj));
  return Buffer.concat([Buffer.from(`${b.length}:`), b, Buffer.from(',')]);
};

let seq = 0;

export async function startBaresip(o: BaresipOptions): Promise<Baresip> {
  const [sipPort] = await freePorts(2); // + 1: baresip's TLS listener
  const [rtpMin] = await freePorts(RTP_PORT_COUNT);
  const [ctrlPort] = await freePorts(1);
  const dir = path.join(o.runDir, `bs-${o.name}`);
  fs.mkdirSync(dir, { recursive: true });
  // sndfile: "<snd_path>/dump-<timestamp>-dec.wav" in a 128-byte buffer -> a short folder, moved into `dir` at quit
  const sndPath = fs.mkdtempSync(`/tmp/bs-${o.name.slice(0, 8)}-`);
  fs.writeFileSync(path.join(dir, 'config'), config(o, sipPort!, rtpMin!, ctrlPort!, sndPath));
  const enc = o.mediaEncryption ?? 'none';
  fs.writeFileSync(path.join(dir, 'accounts'),
    `<sip:${o.name}@127.0.0.1:${sipPort}>;regint=0;answermode=${o.autoAnswer ? 'auto' : 'manual'};audio_codecs=PCMU,PCMA${enc === 'none' ? '' : `;mediaenc=${enc}`}\n`);
  const outFile = path.join(dir, 'out.txt');
  const proc = spawnManaged(`baresip-${o.name}`, 'baresip', ['-s', '-f', dir], {
    cwd: dir,
    env: { ...process.env, HOME: dir },
    stdoutFile: outFile,
    maxMs: (o.maxSeconds ?? 120) * 1000,
  });
  const recDir = path.join(dir, 'rec');
  let moved = false;
  const moveRecordings = (): void => {
    if (moved) return;
    moved = true;
    fs.cpSync(sndPath, recDir, { recursive: true });
    fs.rmSync(sndPath, { recursive: true, force: true });
  };
  void proc.exited.then(moveRecordings, moveRecordings);

  try {
    await waitUntil(`baresip ${o.name} ready with ctrl_tcp on ${ctrlPort}`, () => {
      if (!proc.isRunning()) throw new StopWaiting(`baresip ${o.name} exited at start:\n${readIfExists(outFile).slice(-2000)}`);
      if (!/baresip is ready/.test(readIfExists(outFile))) return undefined;
      return execFileSync('ss', ['-Hltn', `sport = :${ctrlPort}`], { encoding: 'utf8' }).trim() ? true : undefined;
    }, 15000, 100);
  } catch (e) {
    await proc.stop(1000, 'SIGKILL');
    throw e;
  }

  const events: BaresipEvent[] = [];
  const pending = new Map<string, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void; what: string }>();
  const eventsFile = path.join(dir, 'events.jsonl');
  const socket = net.createConnection({ host: '127.0.0.1', port: ctrlPort! });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buf: Buffer = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    const { messages, rest } = parseNetstrings(Buffer.concat([buf, d]));
    buf = rest;
    for (const m of messages) {
      const line = { ...m, _t: Date.now() / 1000 };
      fs.appendFileSync(eventsFile, `${JSON.stringify(line)}\n`);
      if (m['response'] && typeof m['token'] === 'string' && pending.has(m['token'])) {
        const p = pending.get(m['token'])!;
        pending.delete(m['token']);
        if (m['ok']) p.resolve(m);
        else p.reject(new Error(`baresip ${o.name}: "${p.what}" failed: ${JSON.stringify(m)}`));
      } else if (m['event']) events.push(line);
    }
  });
  socket.on('error', () => { /* baresip quit: the pending commands time out */ });
  socket.on('close', () => {
    for (const p of pending.values()) p.reject(new Error(`baresip ${o.name}: ctrl_tcp closed before the answer to "${p.what}"`));
    pending.clear();
  });

  const command = (cmd: string, params = ''): Promise<Record<string, unknown>> => {
    const token = `t${++seq}`;
    const what = `${cmd} ${params}`.trim();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        pending.delete(token);
        reject(new Error(`baresip ${o.name}: no ctrl_tcp answer to "${what}" within 5 s`));
      }, 5000);
      pending.set(token, {
        what,
        resolve: (r) => { clearTimeout(t); resolve(r); },
        reject: (e) => { clearTimeout(t); reject(e); },
      });
      socket.write(netstring({ command: cmd, params, token }));
    });
  };

  const bs: Baresip = {
    name: o.name,
    sipPort: sipPort!,
    rtpPortMin: rtpMin!,
    rtpPortMax: rtpMin! + RTP_PORT_COUNT - 1,
    ctrlPort: ctrlPort!,
    uri: `sip:${o.name}@127.0.0.1:${sipPort}`,
    dir,
    outFile,
    process: proc,
    command,
    events: () => events,
    waitForEvent: (type, timeoutMs, since = 0) =>
      waitUntil(`baresip ${o.name}: event ${type}`, () => {
        const e = events.slice(since).find((ev) => ev.type === type);
        if (e) return e;
        if (!proc.isRunning()) throw new StopWaiting(`baresip ${o.name} exited (events: ${events.map((ev) => ev.type).join(', ')})`);
        return undefined;
      }, timeoutMs).catch((e: Error) => {
        throw new Error(`${e.message}; events so far: ${events.map((ev) => `${ev.type}${ev.param ? `(${ev.param})` : ''}`).join(', ') || 'none'}`);
      }),
    output: () => readIfExists(outFile),
    receivedRecording() {
      const folder = moved ? recDir : sndPath;
      const files = fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => /^dump-.*-dec\.wav$/.test(f)).sort() : [];
      return files.length ? path.join(folder, files.at(-1)!) : undefined;
    },
    async quit() {
      if (proc.isRunning()) {
        try {
          await command('quit');
        } catch {
          /* exits meanwhile */
        }
        const t = setTimeout(() => proc.signal('SIGKILL'), 8000);
        await proc.exited;
        clearTimeout(t);
      }
      socket.destroy();
      moveRecordings();
    },
  };
  return bs;
}

/**
 * The SIP messages of baresip's trace (-s) that it sent (or received), raw text. re prints each message as a block
 * "ESC[36;1m#\nUDP <from> -> <to>\n<message>ESC[;m".
 */
export function sipMessages(bs: Baresip, direction: 'sent' | 'received' = 'sent'): string[] {
  const me = `127\\.0\\.0\\.1:${bs.sipPort}`;
  const head = new RegExp(direction === 'sent' ? `^\\w+ ${me} -> ` : `^\\w+ \\S+ -> ${me}\\s`);
  return bs.output().split('\x1b[36;1m#\n').slice(1)
    .filter((b) => head.test(b))
    .map((b) => b.slice(b.indexOf('\n') + 1).split('\x1b[;m')[0]!);
}

export const sentSipMessages = (bs: Baresip): string[] => sipMessages(bs, 'sent');

const sdpBodies = (messages: readonly string[]): string[] =>
  messages.filter((m) => /\r?\nContent-Type: application\/sdp/i.test(m)).map((m) => m.split(/\r?\n\r?\n/).slice(1).join('\n'));

/** The SDP bodies baresip received (the offer or answer of its peer), in order. */
export const receivedSdps = (bs: Baresip): string[] => sdpBodies(sipMessages(bs, 'received'));

/** The SDP bodies baresip sent (its offer or answer, then any re-INVITE's), in order. */
export function sentSdps(bs: Baresip): string[] {
  return sdpBodies(sipMessages(bs, 'sent'));
}

/** The audio RTP port of the first SDP baresip sent (its m=audio port). */
export function sentAudioPort(bs: Baresip): number {
  const sdp = sentSdps(bs)[0];
  const m = sdp?.match(/^m=audio (\d+) /m);
  if (!m) throw new Error(`baresip ${bs.name} sent no SDP with an m=audio line (trace ${bs.outFile})`);
  return Number(m[1]);
}

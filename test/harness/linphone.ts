/**
 * linphonec (liblinphone 5.x console client) headless on loopback: own HOME, generated linphonerc,
 * commands written to a FIFO that is its stdin (opened read-write by us so it never sees EOF),
 * output patterns awaited with deadlines. Audio through `soundcard use files` + `play`/`record`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { freePorts } from './ports.js';
import { spawnManaged, type ManagedProcess } from './processes.js';
import { readIfExists, sleep, StopWaiting, waitUntil } from './wait.js';
import type { ToneFiles } from './tones.js';
import { readWav } from './wav.js';
import { toneSeconds } from './goertzel.js';

export interface LinphoneOptions {
  readonly name: string;
  readonly runDir: string;
  /** Answer incoming calls automatically (-a). */
  readonly autoAnswer?: boolean;
  readonly mediaEncryption?: LinphoneEncryption;
  /** `media_encryption_mandatory` (default: on unless the encryption is none). */
  readonly mandatory?: boolean;
  /** `srtp_crypto_suites` (SDES), in preference order; default: liblinphone's. */
  readonly srtpSuites?: readonly string[];
  /**
   * Video (VP8 only, liblinphone's static-picture "webcam", no display; `-C`): calls start audio-only,
   * `camera on` adds video by re-INVITE, incoming video is accepted.
   */
  readonly video?: boolean;
  /** Also listen for SIP on this TCP port (default: no TCP listener). */
  readonly sipTcpPort?: number;
  readonly maxSeconds?: number;
  /** ICE (liblinphone 5.1: a NAT policy with protocols=ice and no STUN server: host candidates only); default off. */
  readonly ice?: boolean;
}

/** linphonec's `media_encryption` values. */
export type LinphoneEncryption = 'none' | 'srtp' | 'zrtp' | 'dtls';

export interface Linphone {
  readonly name: string;
  readonly sipPort: number;
  readonly rtpPort: number;
  readonly uri: string;
  readonly dir: string;
  readonly outFile: string;
  readonly logFile: string;
  readonly process: ManagedProcess;
  command(line: string): void;
  /** Wait for `pattern` in linphonec's console output; resolves with the match. */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  output(): string;
  /** `quit` (ends calls with BYE), then make sure the process is gone. */
  quit(): Promise<void>;
}

function linphonerc(name: string, sipPort: number, rtpPort: number, o: LinphoneOptions): string {
  const enc = o.mediaEncryption ?? 'none';
  const mandatory = o.mandatory ?? enc !== 'none';
  const codecs: [string, number, number, number][] = [
    ['PCMU', 8000, 1, 1], ['PCMA', 8000, 1, 1], ['opus', 48000, 2, 0], ['speex', 16000, 1, 0], ['speex', 8000, 1, 0],
    ['speex', 32000, 1, 0], ['GSM', 8000, 1, 0], ['G722', 8000, 1, 0], ['G729', 8000, 1, 0], ['L16', 44100, 2, 0], ['L16', 44100, 1, 0],
  ];
  return [
    '[sip]',
    `sip_port=${sipPort}`,
    'bind_address=127.0.0.1',
    `sip_tcp_port=${o.sipTcpPort ?? 0}`, // 0 disables; -1 would mean a random port
    'sip_tls_port=0',
    'use_ipv6=0',
    'ipv6_migration_done=1', // else the first start re-enables IPv6 and the SDP carries an IPv6 address
    'guess_hostname=0',
    `contact=sip:${name}@127.0.0.1:${sipPort}`,
    'default_proxy=-1',
    `media_encryption=${enc}`,
    `media_encryption_mandatory=${mandatory ? 1 : 0}`,
    ...(o.srtpSuites ? [`srtp_crypto_suites=${o.srtpSuites.join(', ')}`] : []),
    'inc_timeout=60',
    '[rtp]',
    // also the c= address of its SDP. With ICE, liblinphone 5.1 announces the host's interface addresses as candidates
    // (and c=) whatever this says and sends its checks from them (bound to 127.0.0.1 it never receives the answers), but
    // its RTP from the socket's own address: so an ICE linphonec binds its RTP to the host's first non-loopback IPv4.
    `bind_address=${o.ice ? iceHostAddress() : '127.0.0.1'}`,
    `audio_rtp_port=${rtpPort}`,
    `video_rtp_port=${rtpPort + 2}`,
    `text_rtp_port=${rtpPort + 4}`,
    'nortp_timeout=30',
    ...(o.ice ? ['[net]', 'nat_policy_ref=b2bua-test-ice', '[nat_policy_0]', 'ref=b2bua-test-ice', 'protocols=ice'] : []),
    '[sound]',
    'echocancellation=0',
    '[video]',
    ...(o.video
      ? ['enabled=1', 'capture=1', 'display=0', 'automatically_initiate=0', 'automatically_accept=1', 'size=qvga',
        '[video_codec_0]', 'mime=VP8', 'rate=90000', 'enabled=1', '[video_codec_1]', 'mime=H264', 'rate=90000', 'enabled=0']
      : ['enabled=0', 'display=0', 'capture=0', 'automatically_initiate=0', 'automatically_accept=0']),
    ...codecs.flatMap(([mime, rate, ch, en], i) => [`[audio_codec_${i}]`, `mime=${mime}`, `rate=${rate}`, `channels=${ch}`, `enabled=${en}`]),
    '',
  ].join('\n');
}

/** The first non-internal IPv4 address of this host (an ICE linphonec's media address), or undefined. */
export function iceHostAddress(): string | undefined {
  return Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
}

export async function startLinphone(o: LinphoneOptions): Promise<Linphone> {
  const [sipPort] = await freePorts(1);
  const [rtpPort] = await freePorts(6);
  const dir = path.join(o.runDir, `lp-${o.name}`);
  fs.mkdirSync(path.join(dir, '.local/share/linphone'), { recursive: true }); // without it linphonec never listens
  const rc = path.join(dir, 'linphonerc');
  fs.writeFileSync(rc, linphonerc(o.name, sipPort!, rtpPort!, o));
  fs.copyFileSync(rc, `${rc}.orig`); // linphonec rewrites its config on exit
  const fifo = path.join(dir, 'in');
  execFileSync('mkfifo', [fifo]);
  const outFile = path.join(dir, 'out.txt');
  const logFile = path.join(dir, 'log.txt');
  const args = ['-c', rc, '-d', '6', '-l', logFile, ...(o.autoAnswer ? ['-a'] : []), ...(o.video ? ['-C'] : [])];
  const proc = spawnManaged(`linphonec-${o.name}`, 'linphonec', args, {
    cwd: dir,
    env: { ...process.env, HOME: dir },
    stdoutFile: outFile,
    stdinPath: fifo,
    maxMs: (o.maxSeconds ?? 60) * 1000,
  });
  const command = (line: string): void => {
    if (!proc.isRunning()) throw new Error(`linphonec ${o.name} is not running (command "${line}")\n${readIfExists(outFile).slice(-2000)}`);
    const fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    try {
      fs.writeSync(fd, `${line}\n`);
    } finally {
      fs.closeSync(fd);
    }
  };
  const waitForOutput = (pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> =>
    waitUntil(`linphonec ${o.name}: ${pattern}`, () => {
      const m = readIfExists(outFile).match(pattern);
      if (m) return m;
      if (!proc.isRunning()) throw new StopWaiting(`linphonec ${o.name} exited`);
      return undefined;
    }, timeoutMs);

  const lp: Linphone = {
    name: o.name,
    sipPort: sipPort!,
    rtpPort: rtpPort!,
    uri: `sip:${o.name}@127.0.0.1:${sipPort}`,
    dir,
    outFile,
    logFile,
    process: proc,
    command,
    waitForOutput,
    output: () => readIfExists(outFile),
    async quit() {
      if (proc.isRunning()) {
        try {
          command('quit');
        } catch {
          /* exited meanwhile */
        }
        const t = setTimeout(() => proc.signal('SIGKILL'), 8000);
        await proc.exited;
        clearTimeout(t);
      }
    },
  };
  await waitUntil(`linphonec ${o.name} listening on udp/${sipPort}${o.sipTcpPort ? ` and tcp/${o.sipTcpPort}` : ''}`, () => {
    if (!proc.isRunning()) throw new StopWaiting(`linphonec ${o.name} exited at start:\n${readIfExists(outFile).slice(-2000)}`);
    const ss = execFileSync('ss', ['-Hlnu', `sport = :${sipPort}`], { encoding: 'utf8' });
    const tcp = o.sipTcpPort ? execFileSync('ss', ['-Hlnt', `sport = :${o.sipTcpPort}`], { encoding: 'utf8' }) : 'n/a';
    return ss.trim() && tcp.trim() ? true : undefined;
  }, 15000, 100);
  command('soundcard use files');
  return lp;
}

/** Play `wavFile` as our microphone and record what we receive into `recordFile`. */
export function setMedia(lp: Linphone, wavFile: string, recordFile: string): void {
  lp.command(`play ${wavFile}`);
  lp.command(`record ${recordFile}`);
}

export interface TwoWayAudio {
  /** Seconds of the caller's tone in the callee's recording. */
  readonly calleeHeard: number;
  /** Seconds of the callee's tone in the caller's recording. */
  readonly callerHeard: number;
  /** The callee's own tone found in its recording (must stay ~0: no echo/loop). */
  readonly calleeHeardItself: number;
  readonly info: string;
}

/**
 * `caller` dials `target` (the callee directly, or the b2bua), both play their tone and record what they
 * receive for about `seconds`, the caller hangs up; returns the tone seconds found in each recording.
 */
export async function callAndRecord(o: {
  caller: Linphone;
  callee: Linphone;
  target: string;
  runDir: string;
  callerTone: ToneFiles;
  calleeTone: ToneFiles;
  seconds: number;
}): Promise<TwoWayAudio> {
  const callerRec = path.join(o.runDir, `${o.caller.name}.rec.wav`);
  const calleeRec = path.join(o.runDir, `${o.callee.name}.rec.wav`);
  setMedia(o.caller, o.callerTone.wav, callerRec);
  setMedia(o.callee, o.calleeTone.wav, calleeRec);
  await sleep(300);
  o.caller.command(`call ${o.target}`);
  try {
    await o.caller.waitForOutput(/Media streams established/, 15000);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${o.caller.name}:\n${o.caller.output().slice(-1500)}\n${o.callee.name}:\n${o.callee.output().slice(-1500)}`);
  }
  await sleep(o.seconds * 1000);
  o.caller.command('terminate');
  await o.caller.waitForOutput(/ended/, 5000);
  await o.callee.waitForOutput(/ended/, 5000);
  await Promise.all([o.caller.quit(), o.callee.quit()]);
  const atCallee = readWav(calleeRec);
  const atCaller = readWav(callerRec);
  const calleeHeard = toneSeconds(atCallee.samples, atCallee.sampleRate, o.callerTone.frequency);
  const callerHeard = toneSeconds(atCaller.samples, atCaller.sampleRate, o.calleeTone.frequency);
  const calleeHeardItself = toneSeconds(atCallee.samples, atCallee.sampleRate, o.calleeTone.frequency);
  const info =
    `${o.callee.name} heard ${calleeHeard} s of ${o.callerTone.frequency} Hz, ${o.caller.name} heard ${callerHeard} s of ` +
    `${o.calleeTone.frequency} Hz (run dir ${o.runDir})`;
  return { calleeHeard, callerHeard, calleeHeardItself, info };
}

/** liblinphone's LinphoneMediaEncryption names, as in "Negotiated media encryption is LinphoneMediaEncryption<X>". */
export type NegotiatedEncryption = 'None' | 'SRTP' | 'ZRTP' | 'DTLS';

export const NEGOTIATED_NAME: Readonly<Record<LinphoneEncryption, NegotiatedEncryption>> = { none: 'None', srtp: 'SRTP', zrtp: 'ZRTP', dtls: 'DTLS' };

/** Every "Negotiated media encryption is LinphoneMediaEncryption<X>" of linphonec's log (-l) after offset `since`, in order. */
export function negotiatedEncryptions(lp: Linphone, since = 0): NegotiatedEncryption[] {
  return [...readIfExists(lp.logFile).slice(since).matchAll(/Negotiated media encryption is LinphoneMediaEncryption(None|SRTP|ZRTP|DTLS)\b/g)].map((m) => m[1] as NegotiatedEncryption);
}

/**
 * Wait until linphonec's log (after offset `since`) says `expected` was negotiated (the latest such line);
 * throws with what it said instead.
 */
export async function waitForNegotiated(lp: Linphone, expected: NegotiatedEncryption, timeoutMs: number, since = 0): Promise<void> {
  try {
    await waitUntil(`linphonec ${lp.name}: negotiated media encryption ${expected}`, () => (negotiatedEncryptions(lp, since).at(-1) === expected ? true : undefined), timeoutMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}; it logged ${JSON.stringify(negotiatedEncryptions(lp, since))}`);
  }
}

export interface EncryptedCall {
  readonly call: number;
  /** The ZRTP SAS ("auth token"), e.g. "k4ej"; for DTLS-SRTP whatever linphonec prints there. */
  readonly authToken: string;
}

/**
 * linphonec's console lines "Call N is fully encrypted and auth token is XXXX" (ZRTP and DTLS-SRTP only; with
 * SDES linphonec prints nothing) after offset `since` of its output, in order.
 */
export function encryptedCalls(lp: Linphone, since = 0): EncryptedCall[] {
  return [...lp.output().slice(since).matchAll(/Call (\d+) is fully encrypted and auth token is (\S*)/g)].map((m) => ({ call: Number(m[1]), authToken: (m[2] ?? '').replace(/\.$/, '') }));
}

/** Wait for the first "fully encrypted" line after offset `since` of linphonec's output; resolves with it. */
export async function waitForFullyEncrypted(lp: Linphone, timeoutMs: number, since = 0): Promise<EncryptedCall> {
  return waitUntil(`linphonec ${lp.name}: "fully encrypted" line`, () => encryptedCalls(lp, since)[0], timeoutMs);
}

/** Wait for `pattern` in linphonec's output after offset `since` (e.g. the output length before a call). */
export function waitForOutputSince(lp: Linphone, pattern: RegExp, since: number, timeoutMs: number): Promise<RegExpMatchArray> {
  return waitUntil(`linphonec ${lp.name}: ${pattern} (after offset ${since})`, () => {
    const m = lp.output().slice(since).match(pattern);
    if (m) return m;
    if (!lp.process.isRunning()) throw new StopWaiting(`linphonec ${lp.name} exited`);
    return undefined;
  }, timeoutMs);
}

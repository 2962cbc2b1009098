/**
 * One linphonec -> linphonec call (directly or through the b2bua) with each side's media encryption checked:
 * what liblinphone negotiated, the "fully encrypted" line and ZRTP SAS, the tones in both recordings, optionally
 * video added by re-INVITE (`camera on`); and the wire protocol of each side's RTP port from a capture.
 */
import path from 'node:path';
import { NEGOTIATED_NAME, setMedia, waitForFullyEncrypted, waitForNegotiated, waitForOutputSince, type EncryptedCall, type Linphone, type LinphoneEncryption } from './linphone.js';
import type { ToneFiles } from './tones.js';
import type { IpPacket } from './pcap.js';
import { packetsFrom, packetsTo } from './flows.js';
import { readWav } from './wav.js';
import { toneSeconds } from './goertzel.js';
import { readIfExists, sleep } from './wait.js';
import { videoVerdict, wireVerdict, type VideoVerdict, type WireProtocol, type WireVerdict } from './wire.js';

/** What a linphonec in that `media_encryption` mode is expected to speak on the wire. */
export const WIRE_OF: Readonly<Record<LinphoneEncryption, WireProtocol>> = { none: 'plain', srtp: 'sdes', dtls: 'dtls', zrtp: 'zrtp' };

export interface Side {
  readonly lp: Linphone;
  /** Its `media_encryption`: what it must negotiate. */
  readonly encryption: LinphoneEncryption;
  /** The tone it plays. */
  readonly tone: ToneFiles;
}

export interface CallResult {
  /** Seconds of the caller's tone in the callee's recording, and the other way round. */
  readonly calleeHeard: number;
  readonly callerHeard: number;
  /** "fully encrypted" lines (ZRTP/DTLS sides only). */
  readonly callerEncrypted?: EncryptedCall;
  readonly calleeEncrypted?: EncryptedCall;
  readonly info: string;
}

/** Modes whose key exchange linphonec reports as "fully encrypted" on its console. */
const printsFullyEncrypted = (e: LinphoneEncryption): boolean => e === 'zrtp' || e === 'dtls';

const explain = (e: unknown, ...lps: Linphone[]): Error =>
  new Error(`${(e as Error).message}\n${lps.map((lp) => `--- ${lp.name} (${lp.outFile}):\n${lp.output().slice(-1200)}`).join('\n')}`);

/**
 * `caller` dials `target`; both play their tone and record; once media is up the negotiated encryption is
 * checked on both sides (and the "fully encrypted" line for ZRTP/DTLS); with `video`, the caller turns its
 * camera on and both must report video streams; after `seconds` the caller hangs up. The linphonecs keep running
 * (a second call between the same instances reuses their ZRTP caches). `nth` numbers the recordings.
 */
export async function encryptedCall(o: {
  caller: Side;
  callee: Side;
  target: string;
  runDir: string;
  seconds: number;
  video?: boolean;
  nth?: number;
}): Promise<CallResult> {
  const nth = o.nth ?? 1;
  const { caller, callee } = o;
  const callerRec = path.join(o.runDir, `${caller.lp.name}.rec${nth}.wav`);
  const calleeRec = path.join(o.runDir, `${callee.lp.name}.rec${nth}.wav`);
  setMedia(caller.lp, caller.tone.wav, callerRec);
  setMedia(callee.lp, callee.tone.wav, calleeRec);
  await sleep(300); // play/record applied before the call
  // everything awaited below is looked for after these offsets: the earlier calls' lines do not count
  const out = { caller: caller.lp.output().length, callee: callee.lp.output().length };
  const log = { caller: readIfExists(caller.lp.logFile).length, callee: readIfExists(callee.lp.logFile).length };
  caller.lp.command(`call ${o.target}`);
  let callerEncrypted: EncryptedCall | undefined;
  let calleeEncrypted: EncryptedCall | undefined;
  try {
    const up = await waitForOutputSince(caller.lp, /Media streams established|with \S+ error\.|ended \(|declined/, out.caller, 15000);
    if (!/Media streams established/.test(up[0])) {
      const finals = [...new Set(readIfExists(caller.lp.logFile).slice(log.caller).match(/^SIP\/2\.0 [3-6]\d\d [^\r\n]*/gm) ?? [])];
      throw new Error(`call ${nth} not established: "${up[0]}" (final responses received: ${finals.join(', ') || 'none'})`);
    }
    await Promise.all([
      waitForNegotiated(caller.lp, NEGOTIATED_NAME[caller.encryption], 10000, log.caller),
      waitForNegotiated(callee.lp, NEGOTIATED_NAME[callee.encryption], 10000, log.callee),
    ]);
    if (printsFullyEncrypted(caller.encryption)) callerEncrypted = await waitForFullyEncrypted(caller.lp, 10000, out.caller);
    if (printsFullyEncrypted(callee.encryption)) calleeEncrypted = await waitForFullyEncrypted(callee.lp, 10000, out.callee);
    if (o.video) {
      await sleep(1000);
      caller.lp.command('camera on');
      await waitForOutputSince(caller.lp, /for call \d+ \(video\)/, out.caller, 10000);
      await waitForOutputSince(callee.lp, /for call \d+ \(video\)/, out.callee, 5000);
    }
  } catch (e) {
    throw explain(e, caller.lp, callee.lp);
  }
  await sleep(o.seconds * 1000);
  caller.lp.command('terminate');
  try {
    await waitForOutputSince(caller.lp, /ended/, out.caller, 5000);
    await waitForOutputSince(callee.lp, /ended/, out.callee, 5000);
  } catch (e) {
    throw explain(e, caller.lp, callee.lp);
  }
  await sleep(300); // recordings closed
  const heard = (file: string, f: number): number => {
    const w = readWav(file);
    return toneSeconds(w.samples, w.sampleRate, f);
  };
  const calleeHeard = heard(calleeRec, caller.tone.frequency);
  const callerHeard = heard(callerRec, callee.tone.frequency);
  const info =
    `${callee.lp.name} heard ${calleeHeard} s of ${caller.tone.frequency} Hz, ${caller.lp.name} heard ${callerHeard} s of ${callee.tone.frequency} Hz` +
    `${callerEncrypted ? `, ${caller.lp.name} SAS "${callerEncrypted.authToken}"` : ''}${calleeEncrypted ? `, ${callee.lp.name} SAS "${calleeEncrypted.authToken}"` : ''} (run dir ${o.runDir})`;
  return { calleeHeard, callerHeard, callerEncrypted, calleeEncrypted, info };
}

export interface PortWire {
  /** What the linphonec sent from its audio RTP port. */
  readonly sent: WireVerdict;
  /** What it received on that port (from its peer: the other linphonec, or the b2bua). */
  readonly received: WireVerdict;
  /** Its video port, both directions (only when asked). */
  readonly videoSent?: VideoVerdict;
  readonly videoReceived?: VideoVerdict;
}

/**
 * The wire protocol of one linphonec's audio port, both directions. `sentTone` / `receivedTone`: the tone in each
 * direction (decodable iff plain). Only the packets between `since` and `until` (capture times) when given.
 */
export function portWire(packets: readonly IpPacket[], lp: Linphone, sentTone: number, receivedTone: number, o: { video?: boolean; since?: number; until?: number } = {}): PortWire {
  return audioPortWire(packets, lp.rtpPort, sentTone, receivedTone, o);
}

/** portWire for any peer's audio port (`port`; its video port, when asked, is `port` + 2 as with linphonec). */
export function audioPortWire(packets: readonly IpPacket[], port: number, sentTone: number, receivedTone: number, o: { video?: boolean; since?: number; until?: number } = {}): PortWire {
  const window = packets.filter((p) => (o.since === undefined || p.time >= o.since) && (o.until === undefined || p.time <= o.until));
  const v = port + 2;
  return {
    sent: wireVerdict(packetsFrom(window, port), { frequency: sentTone }),
    received: wireVerdict(packetsTo(window, port), { frequency: receivedTone }),
    ...(o.video ? { videoSent: videoVerdict(packetsFrom(window, v)), videoReceived: videoVerdict(packetsTo(window, v)) } : {}),
  };
}

/** The ports to capture for linphonecs' media: audio RTP/RTCP and video RTP/RTCP of each. */
export function mediaPorts(...lps: Linphone[]): number[] {
  return lps.flatMap((lp) => [lp.rtpPort, lp.rtpPort + 1, lp.rtpPort + 2, lp.rtpPort + 3]);
}

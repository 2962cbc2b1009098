/**
 * Test calls with our own SIP + SRTP endpoints (sip-ua.ts + srtp-media.ts): a caller that offers plain RTP or
 * SDES with chosen suites, and a callee that accepts chosen suites (or plain only) and answers every call with
 * a tone stream. Used by the trenscrypter e2e tests and bench/b2bua-calls.ts.
 */
import { SipUa, type Dialog, type InviteHandlerResult, type SipMessage } from './sip-ua.js';
import {
  MediaStream, answerCrypto, buildAudioSdp, newCrypto, parseAudioSdp,
  type AudioSdp, type CryptoLine, type Suite,
} from './srtp-media.js';

/** Plain RTP, or SDES offering/accepting these suites. */
export type Encryption =
  | { readonly mode: 'none' }
  /** `orPlain`: as a callee, also answer a plain RTP/AVP offer (plain). */
  | { readonly mode: 'sdes'; readonly suites: readonly Suite[]; readonly orPlain?: boolean };

export const plain: Encryption = { mode: 'none' };
export const sdes = (...suites: Suite[]): Encryption => ({ mode: 'sdes', suites });
export const sdesOrPlain = (...suites: Suite[]): Encryption => ({ mode: 'sdes', suites, orPlain: true });

export interface CallSide {
  readonly dialog: Dialog;
  readonly media: MediaStream;
  /** The SDP the peer (the b2bua) sent us last. */
  remote: AudioSdp;
  /** Our crypto line in use (undefined = plain). */
  local: CryptoLine | undefined;
  sdpVersion: number;
}

export interface PlacedCall extends CallSide {
  /** Milliseconds from INVITE sent to 200 OK received. */
  readonly setupMs: number;
}

/** Caller: INVITE `requestUri` through the b2bua, start the tone once answered. Rejects with SipError on >= 300. */
export async function placeCall(ua: SipUa, requestUri: string, enc: Encryption, o: { frequency: number; keepAudio?: boolean; maxPackets?: number }): Promise<PlacedCall> {
  const media = await MediaStream.open({ frequency: o.frequency, keepAudio: o.keepAudio });
  ua.onClose(() => media.close());
  const offered = enc.mode === 'sdes' ? enc.suites.map((s, i) => newCrypto(i + 1, s)) : [];
  if (offered.length > 0) media.expectKey();
  const started = performance.now();
  let dialog: Dialog;
  try {
    dialog = await ua.invite(requestUri, buildAudioSdp({ port: media.port, crypto: offered }));
  } catch (e) {
    media.close();
    throw e;
  }
  const setupMs = performance.now() - started;
  const remote = parseAudioSdp(dialog.remoteSdp);
  let local: CryptoLine | undefined;
  if (enc.mode === 'sdes') {
    const theirs = remote.crypto.find((c) => offered.some((x) => x.tag === c.tag && x.suite === c.suite));
    if (!theirs) {
      media.close();
      throw new Error(`the answer has no a=crypto matching our offer (${offered.map((c) => c.suite).join(', ')}):\n${dialog.remoteSdp}`);
    }
    local = offered.find((x) => x.tag === theirs.tag)!;
    media.sendKey(local);
    media.recvKey(theirs);
  }
  media.target(remote);
  media.start(o.maxPackets);
  return { dialog, media, remote, local, sdpVersion: 1, setupMs };
}

/** Re-INVITE with a fresh key of the same suite and tag; switch our sending key once answered. */
export async function rekey(call: CallSide): Promise<SipMessage> {
  if (!call.local) throw new Error('rekey: the call is not SDES');
  const fresh = newCrypto(call.local.tag, call.local.suite);
  const res = await call.dialog.reinvite(buildAudioSdp({ port: call.media.port, crypto: [fresh], version: ++call.sdpVersion }));
  call.remote = parseAudioSdp(res.body);
  const theirs = call.remote.crypto.find((c) => c.tag === fresh.tag && c.suite === fresh.suite);
  if (!theirs) throw new Error(`re-INVITE answer without our tag ${fresh.tag}:\n${res.body}`);
  call.media.recvKey(theirs);
  call.media.sendKey(fresh);
  call.local = fresh;
  call.media.target(call.remote);
  return res;
}

export interface Answerer {
  readonly ua: SipUa;
  /** Calls answered, by Call-ID of leg B. */
  readonly calls: Map<string, CallSide>;
  /** INVITEs refused (status) with the offer received. */
  readonly refused: { status: number; offer: string }[];
  /** Offers received (initial INVITEs), for checks of what the b2bua offered on leg B. */
  readonly offers: AudioSdp[];
  /** Close the media of every call so far and forget them (between load levels). */
  reset(): void;
  close(): void;
}

/**
 * Callee: answers every INVITE 200 with a tone (`frequency`), accepting `enc` (plain only: an RTP/SAVP offer is refused
 * 488, like a peer without SRTP; SDES: the first offered suite in `enc.suites`, else 488).
 */
export async function startAnswerer(enc: Encryption, o: {
  frequency: number;
  keepAudio?: boolean;
  user?: string;
  maxPackets?: number;
  /** Media starts this long after the ACK (default 0: on the ACK). */
  mediaStartDelayMs?: number;
}): Promise<Answerer> {
  const ua = await SipUa.open({ user: o.user ?? 'callee' });
  const calls = new Map<string, CallSide>();
  const refused: { status: number; offer: string }[] = [];
  const offers: AudioSdp[] = [];
  const media = new Set<MediaStream>();

  const reinvite = (call: CallSide) => (req: SipMessage): InviteHandlerResult => {
    if (!req.body) return { status: 200, sdp: buildAudioSdp({ port: call.media.port, crypto: call.local ? [call.local] : [], version: call.sdpVersion }) };
    const offer = parseAudioSdp(req.body);
    call.remote = offer;
    if (call.local) {
      const theirs = offer.crypto.find((c) => c.suite === call.local!.suite);
      if (!theirs) return { status: 488 };
      call.media.recvKey(theirs);
      if (theirs.tag !== call.local.tag) call.local = { ...call.local, tag: theirs.tag };
    }
    call.media.target(offer);
    return { status: 200, sdp: buildAudioSdp({ port: call.media.port, crypto: call.local ? [call.local] : [], version: ++call.sdpVersion }) };
  };

  ua.onInvite = async (req, dialog) => {
    const offer = parseAudioSdp(req.body);
    offers.push(offer);
    const secureOffer = offer.proto.includes('SAVP');
    let local: CryptoLine | undefined;
    if (enc.mode === 'none') {
      if (secureOffer) return (refused.push({ status: 488, offer: req.body }), { status: 488 });
    } else if (secureOffer || !enc.orPlain) {
      local = answerCrypto(offer, enc.suites);
      if (!local) return (refused.push({ status: 488, offer: req.body }), { status: 488 });
    }
    const m = await MediaStream.open({ frequency: o.frequency, keepAudio: o.keepAudio });
    media.add(m);
    if (local) {
      m.sendKey(local);
      m.recvKey(offer.crypto.find((c) => c.tag === local.tag));
    }
    m.target(offer);
    // media starts once the call is confirmed: before the 200 reached the b2bua it has no key for our packets
    dialog.onAck(() => {
      if (o.mediaStartDelayMs) setTimeout(() => !dialog.ended && m.start(o.maxPackets), o.mediaStartDelayMs);
      else m.start(o.maxPackets);
    });
    const call: CallSide = { dialog, media: m, remote: offer, local, sdpVersion: 1 };
    dialog.onReinvite = reinvite(call);
    dialog.onEnd(() => m.stop());
    calls.set(dialog.callId, call);
    return { status: 200, sdp: buildAudioSdp({ port: m.port, crypto: local ? [local] : [] }) };
  };

  return {
    ua, calls, refused, offers,
    reset() {
      for (const m of media) m.close();
      media.clear();
      calls.clear();
      refused.length = 0;
      offers.length = 0;
    },
    close() {
      for (const m of media) m.close();
      ua.close();
    },
  };
}

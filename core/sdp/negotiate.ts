/**
 * Offer/answer decisions for a relay that does not transcode: the codecs of a leg are the other
 * leg's codecs (restricted by `audio-codec` / `video-codec`), answers keep the intersection,
 * hold directions are forwarded as offered, keys are ours (SDES) and roles follow a=setup.
 */
import { generateSrtpKey, isSrtpSuite } from '../media/sdes.js';
import type { SrtpKey } from '../media/types.js';
import type { Direction, SrtpSuite } from '../vocabulary/index.js';
import type { Codec, MediaLine } from './model.js';

export function isTelephoneEvent(c: Codec): boolean {
  return c.name.toLowerCase() === 'telephone-event';
}

function sameCodec(a: Codec, b: Codec): boolean {
  return a.name.toLowerCase() === b.name.toLowerCase() && a.rate === b.rate && (a.channels ?? 1) === (b.channels ?? 1);
}

/**
 * `audio-codec` = `name/rate` or `name`; `video-codec` = `name`. Empty = no restriction.
 * telephone-event is always kept for audio (DTMF).
 */
export function restrictCodecs(codecs: readonly Codec[], kind: string, forced: string): Codec[] {
  if (!forced) return [...codecs];
  const [name, rate] = forced.split('/');
  const matches = (c: Codec): boolean => c.name.toLowerCase() === name!.toLowerCase() && (rate === undefined || c.rate === Number(rate));
  return codecs.filter((c) => matches(c) || (kind === 'audio' && isTelephoneEvent(c)));
}

/** True when a restricted list still has a real codec (not only telephone-event). */
export function hasMediaCodec(codecs: readonly Codec[]): boolean {
  return codecs.some((c) => !isTelephoneEvent(c) && c.name.toLowerCase() !== 'cn');
}

/** Codecs of `offered` that `answered` accepted, in the answer's order, with the offer's payload types. */
export function intersectCodecs(offered: readonly Codec[], answered: readonly Codec[]): Codec[] {
  const out: Codec[] = [];
  for (const a of answered) {
    const o = offered.find((c) => sameCodec(c, a) && !out.includes(c));
    if (o) out.push({ ...o, fmtp: a.fmtp ?? o.fmtp, rtcpFb: o.rtcpFb.filter((f) => a.rtcpFb.includes(f)) });
  }
  return out;
}

/** The direction an answerer mirrors by default (RFC 3264 §6.1). */
export function mirrorDirection(d: Direction): Direction {
  return d === 'sendonly' ? 'recvonly' : d === 'recvonly' ? 'sendonly' : d;
}

function sends(d: Direction): boolean { return d === 'sendrecv' || d === 'sendonly'; }
function receives(d: Direction): boolean { return d === 'sendrecv' || d === 'recvonly'; }

/** What both directions allow (e.g. a mirrored offer less what we hold ourselves). */
export function bothAllow(x: Direction, y: Direction): Direction {
  const send = sends(x) && sends(y);
  const recv = receives(x) && receives(y);
  return send && recv ? 'sendrecv' : send ? 'sendonly' : recv ? 'recvonly' : 'inactive';
}

/** What we may do towards a peer once `ours` (in our SDP) met `theirs` (in the peer's SDP). */
export function negotiatedDirection(ours: Direction, theirs: Direction): Direction {
  const send = sends(ours) && receives(theirs);
  const recv = receives(ours) && sends(theirs);
  return send && recv ? 'sendrecv' : send ? 'sendonly' : recv ? 'recvonly' : 'inactive';
}

export interface OfferedKey {
  readonly tag: number;
  readonly key: SrtpKey;
}

/** One a=crypto line per suite, tags 1..n, fresh keys. */
export function offerKeys(suites: readonly SrtpSuite[]): OfferedKey[] {
  return suites.map((suite, i) => ({ tag: i + 1, key: generateSrtpKey(suite) }));
}

export type KeyChoice = { ok: true; ours: OfferedKey; theirs: SrtpKey } | { ok: false; error: string };

/** Answering an SDES offer: the first offered line whose suite we allow; our key uses the same tag and suite. */
export function answerKeys(offer: MediaLine, allowed: readonly SrtpSuite[]): KeyChoice {
  for (const c of offer.crypto) {
    if (isSrtpSuite(c.suite) && allowed.includes(c.suite)) {
      return { ok: true, ours: { tag: c.tag, key: generateSrtpKey(c.suite) }, theirs: { suite: c.suite, keySalt: c.keySalt, ...(c.mki ? { mki: c.mki } : {}) } };
    }
  }
  return { ok: false, error: `no acceptable SRTP suite offered (offered: ${offer.crypto.map((c) => c.suite).join(', ') || 'none'}; allowed: ${allowed.join(', ')})` };
}

/** Reading an SDES answer to our offer: the tag it chose picks our key. */
export function keysFromAnswer(ourOffer: readonly OfferedKey[], answer: MediaLine): KeyChoice {
  for (const c of answer.crypto) {
    const ours = ourOffer.find((o) => o.tag === c.tag && o.key.suite === c.suite);
    if (ours) return { ok: true, ours, theirs: { suite: ours.key.suite, keySalt: c.keySalt, ...(c.mki ? { mki: c.mki } : {}) } };
  }
  return { ok: false, error: 'the answer has no a=crypto matching one of our offered tags' };
}

/** Our a=setup when answering, and our DTLS role. */
export function answerSetup(offeredSetup: string | undefined): { setup: 'active' | 'passive'; role: 'client' | 'server' } {
  return offeredSetup === 'active' ? { setup: 'passive', role: 'server' } : { setup: 'active', role: 'client' };
}

/** Our DTLS role after we offered actpass and the peer answered `answeredSetup`. */
export function roleFromAnswer(answeredSetup: string | undefined): 'client' | 'server' {
  return answeredSetup === 'passive' ? 'client' : 'server';
}

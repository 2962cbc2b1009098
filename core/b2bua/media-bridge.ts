/**
 * The media side of a call: each leg's SDP state (what we sent, what the peer sent, keys, roles),
 * offers and answers built for one leg from the other leg's SDP, and the media session configured
 * at each offer/answer step. m-line i of leg A is m-line i of leg B.
 */
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import { b2buaError, type B2buaError } from '../errors/index.js';
import type { LegParams, LocalEndpoint, MediaEngine, MediaSession, SrtpKey, StreamParams } from '../media/types.js';
import type { Direction, LegId, MediaKind, EncryptionMode, SrtpSuite } from '../vocabulary/index.js';
import { buildSdp, protoFor, type OutStream } from '../sdp/build.js';
import type { Codec, IceCandidate, MediaLine, ParsedSdp } from '../sdp/model.js';
import {
  answerKeys, answerSetup, bothAllow, hasMediaCodec, intersectCodecs, isTelephoneEvent, keysFromAnswer, mirrorDirection, negotiatedDirection, offerKeys,
  restrictCodecs, roleFromAnswer, type OfferedKey,
} from '../sdp/negotiate.js';

interface StreamState {
  offeredKeys?: OfferedKey[];
  srtp?: { send: SrtpKey; recv: SrtpKey };
  dtlsRole?: 'client' | 'server';
  /** This leg's last offer put the stream on hold (sendonly / inactive in a re-INVITE): answered as Flexisip answers it. */
  holdOffered?: boolean;
}

/** We hold this leg's stream: the last SDP we sent it only sends, or nothing. */
function weHold(leg: LegState, index: number): boolean {
  const d = leg.local?.[index]?.direction;
  return d === 'sendonly' || d === 'inactive';
}
/** The leg holds us: its last SDP (offer or answer) only sends, or nothing. */
function holdsUs(leg: LegState, index: number): boolean {
  const d = leg.remote?.media[index]?.direction;
  return d === 'sendonly' || d === 'inactive';
}

class LegState {
  readonly sessionId = String(randomInt(1, 2 ** 31));
  version = randomInt(1, 1000);
  /** What we last sent this leg (offer or answer) and its text. */
  local: OutStream[] | undefined;
  localSdp = '';
  /** What the peer last sent (offer or answer). */
  remote: ParsedSdp | undefined;
  readonly streams = new Map<number, StreamState>();
  readonly endpoints = new Map<number, LocalEndpoint>();
  /** ICE-lite credentials of this leg (RFC 8445 section 5.3: ufrag >= 24 bits, pwd >= 128 bits of randomness; base64 without padding = ice-char, RFC 8839); kept for the whole call. */
  readonly ice = { ufrag: randomBytes(6).toString('base64'), pwd: randomBytes(18).toString('base64') };

  /** The IP family of this leg's peer (its signalling address): its media endpoints are of that family; undefined = the default one. */
  family: 4 | 6 | undefined;

  /** Late offer: what we hold as this leg's SDP is a placeholder; the engine is configured once its answer (ACK) is in. */
  awaitingRemote = false;

  constructor(readonly id: LegId, public encryption: EncryptionMode, public suites: readonly SrtpSuite[], readonly avpf?: boolean) {}

  stream(i: number): StreamState {
    let s = this.streams.get(i);
    if (!s) { s = {}; this.streams.set(i, s); }
    return s;
  }
}

/** ICE-lite on both legs (`enable-ice`, with an engine that answers checks): the public addresses announced as server-reflexive candidates. */
export interface IceSettings {
  /** `nat-addresses`: at most one IPv4 and one IPv6 (as liblinphone's NAT policy). */
  readonly natAddresses: readonly string[];
}

/** RFC 8445 section 5.1.2.1: type preference (host 126, srflx 100), one local preference, component 1 (RTP) / 2 (RTCP). */
const icePriority = (type: 'host' | 'srflx', component: number): number => ((type === 'host' ? 126 : 100) * 2 ** 24) + (65535 * 2 ** 8) + (256 - component);

/**
 * Our candidates for one stream: a host candidate at the media address (RTP, and RTCP unless rtcp-mux is agreed), and a
 * server-reflexive candidate per `nat-addresses` entry of the socket's address family, based on the host one, as
 * liblinphone does for Flexisip's B2BUA (IceService::addPredefinedSflrxCandidates).
 */
export function iceCandidates(ep: LocalEndpoint, withRtcp: boolean, natAddresses: readonly string[]): IceCandidate[] {
  const components = withRtcp ? [[1, ep.rtpPort], [2, ep.rtcpPort]] as const : [[1, ep.rtpPort]] as const;
  const family = net.isIPv6(ep.address) ? 6 : 4;
  const out: IceCandidate[] = [];
  for (const [component, port] of components) {
    out.push({ foundation: '1', component, priority: icePriority('host', component), ip: ep.address, port, type: 'host' });
    for (const nat of natAddresses) {
      if (net.isIP(nat) !== family || nat === ep.address) continue;
      out.push({ foundation: '2', component, priority: icePriority('srflx', component), ip: nat, port, type: 'srflx', raddr: ep.address, rport: port });
    }
  }
  return out;
}

export interface ForcedCodecs {
  readonly audio: string;
  readonly video: string;
}

function isAv(kind: string): kind is MediaKind {
  return kind === 'audio' || kind === 'video';
}

/** A port-0 m-line mirroring `m` (same kind and formats, so m-line positions stay aligned). */
function refused(m: MediaLine, encryption: EncryptionMode, forcedAvpf?: boolean): OutStream {
  const avpf = forcedAvpf ?? m.avpf;
  return {
    kind: m.kind, enabled: false, codecs: m.codecs, direction: 'inactive', rtcpMux: false, encryption, avpf,
    proto: isAv(m.kind) ? protoFor(encryption, avpf) : m.proto, formats: m.formats,
  };
}

/** One leg's media settings: its encryption mode, the SDES suites we offer or accept on it, its RTP profile if forced. */
export interface LegMedia {
  readonly encryption: EncryptionMode;
  readonly suites: readonly SrtpSuite[];
  /** AVPF (true) or AVP (false) in the offers we send this leg; undefined = the profile the other leg offered. */
  readonly avpf?: boolean | undefined;
}

/** What each leg asks for: leg A's offer, leg B's settings from the legBMedia hook. */
interface WantedMedia {
  readonly encryption: EncryptionMode;
  readonly srtpSuites: readonly SrtpSuite[];
  readonly avpf?: boolean | undefined;
}

export type MediaPlan = { readonly ok: true; readonly legs: Record<LegId, LegMedia> } | { readonly ok: false; readonly error: B2buaError };

export class MediaBridge {
  readonly legs: Record<LegId, LegState>;

  /** `ice`: ICE-lite on both legs (undefined = off: no ICE attribute, plain c=/m= behaviour). */
  constructor(readonly session: MediaSession, legA: LegMedia, legB: LegMedia, private readonly forced: ForcedCodecs, private readonly iceSettings?: IceSettings) {
    this.legs = { a: new LegState('a', legA.encryption, legA.suites, legA.avpf), b: new LegState('b', legB.encryption, legB.suites, legB.avpf) };
  }

  /**
   * Each leg's encryption mode checked against what the media engine can do, and the SDES suites
   * it cannot do dropped (an engine listing no suites takes any); a call it cannot bridge is refused 488.
   */
  static plan(legA: WantedMedia, legB: WantedMedia, engine: Pick<MediaEngine, 'name' | 'capabilities'>): MediaPlan {
    const caps = engine.capabilities;
    const unsupported = ([['A', legA.encryption], ['B', legB.encryption]] as [string, EncryptionMode][]).find(([, mode]) => !caps.encryption.includes(mode));
    if (unsupported) {
      return { ok: false, error: b2buaError('B2BUA_ENCRYPTION_UNAVAILABLE', { mode: unsupported[1], leg: unsupported[0], engine: engine.name }) };
    }
    const usable = (suites: readonly SrtpSuite[]): SrtpSuite[] => suites.filter((s) => caps.srtpSuites.length === 0 || caps.srtpSuites.includes(s));
    const suitesB = usable(legB.srtpSuites);
    if (legB.encryption === 'sdes' && suitesB.length === 0 && legB.srtpSuites.length > 0) {
      return { ok: false, error: b2buaError('B2BUA_SRTP_SUITES_UNAVAILABLE', { suites: legB.srtpSuites.join(', ') }) };
    }
    return { ok: true, legs: { a: { encryption: legA.encryption, suites: usable(legA.srtpSuites) }, b: { encryption: legB.encryption, suites: suitesB, avpf: legB.avpf } } };
  }

  private async endpoint(leg: LegState, index: number, kind: MediaKind): Promise<LocalEndpoint> {
    const known = leg.endpoints.get(index);
    if (known) return known;
    const ep = await this.session.allocate(leg.id, index, kind, leg.encryption, leg.family);
    leg.endpoints.set(index, ep);
    return ep;
  }

  private render(leg: LegState, streams: OutStream[]): string {
    const address = [...leg.endpoints.values()][0]?.address ?? '127.0.0.1';
    const sdp = (): string => buildSdp({ address, sessionId: leg.sessionId, sessionVersion: leg.version, streams });
    let text = sdp();
    if (leg.localSdp !== '' && text !== leg.localSdp) { leg.version++; text = sdp(); }
    leg.local = streams;
    leg.localSdp = text;
    return text;
  }

  /**
   * `from` offered `offer`: remember it, and build the offer for the other leg
   * (same m-lines, codecs restricted by audio-codec / video-codec, direction as offered).
   */
  async forwardOffer(from: LegId, offer: ParsedSdp): Promise<string> {
    const src = this.legs[from];
    const dst = this.legs[from === 'a' ? 'b' : 'a'];
    const reoffer = src.remote !== undefined;
    src.remote = offer;
    const streams: OutStream[] = [];
    for (const m of offer.media) {
      const codecs = isAv(m.kind) ? this.offeredTelephoneEvent(m.kind, restrictCodecs(m.codecs, m.kind, m.kind === 'audio' ? this.forced.audio : this.forced.video)) : [];
      const enabled = isAv(m.kind) && m.enabled && hasMediaCodec(codecs);
      if (!enabled) {
        streams.push(refused(m, dst.encryption, dst.avpf));
        continue;
      }
      await this.endpoint(src, m.index, m.kind);
      const ep = await this.endpoint(dst, m.index, m.kind);
      const st = dst.stream(m.index);
      let crypto: OfferedKey[] | undefined;
      if (dst.encryption === 'sdes') {
        st.offeredKeys ??= offerKeys(dst.suites.length > 0 ? dst.suites : ['AES_CM_128_HMAC_SHA1_80']);
        crypto = st.offeredKeys;
      }
      const avpf = dst.avpf ?? m.avpf;
      // Hold as Flexisip's B2BUA maps it (b2bua-server.cc onCallStatePausedByRemote): a leg that pauses (sendonly or
      // inactive) puts the other leg on hold with sendonly, or with inactive when that leg holds us already ("on hold
      // for me too"); the pausing leg is answered for itself (forwardAnswer).
      const holding = reoffer && (m.direction === 'sendonly' || m.direction === 'inactive');
      src.stream(m.index).holdOffered = holding;
      const direction: Direction = holding ? (holdsUs(dst, m.index) ? 'inactive' : 'sendonly') : m.direction;
      streams.push({
        // a=rtcp-fb belongs to AVPF (RFC 4585): dropped when this leg is forced to AVP.
        kind: m.kind, enabled: true, endpoint: ep, codecs: avpf ? codecs : codecs.map((c) => ({ ...c, rtcpFb: [] })),
        direction, rtcpMux: m.rtcpMux, ptime: m.ptime, maxptime: m.maxptime,
        encryption: dst.encryption, avpf, crypto, setup: dst.encryption === 'dtls-srtp' ? 'actpass' : undefined,
        ice: this.ourIce(dst, ep, true),
      });
    }
    if (!streams.some((s) => s.enabled)) {
      const forced = [this.forced.audio, this.forced.video].filter((f) => f).join(', ');
      const why = forced ? `no offered codec matches the forced codec (${forced})` : 'no usable audio or video stream offered';
      throw b2buaError('B2BUA_SDP_INVALID', { why });
    }
    return this.render(dst, streams);
  }

  /**
   * `from` answered the offer we forwarded: configure it, then build the answer for the leg that
   * offered (codecs = intersection, direction as answered) and configure that leg too.
   */
  async forwardAnswer(from: LegId, answer: ParsedSdp): Promise<string> {
    const ans = this.legs[from];
    const off = this.legs[from === 'a' ? 'b' : 'a'];
    const ourOffer = ans.local;
    const theirOffer = off.remote;
    if (!ourOffer || !theirOffer) throw b2buaError('B2BUA_INTERNAL', { bug: 'answer without an offer' });
    if (answer.media.length !== ourOffer.length) {
      throw b2buaError('B2BUA_SDP_INVALID', { why: `the answer has ${answer.media.length} m-lines, the offer had ${ourOffer.length}` });
    }
    for (const m of answer.media) {
      const st = ans.stream(m.index);
      // An SDES / DTLS-SRTP offer answered in another profile would run in clear (ZRTP may do without a=zrtp-hash).
      if ((ans.encryption === 'sdes' || ans.encryption === 'dtls-srtp') && m.enabled && isAv(m.kind) && m.encryption !== ans.encryption) {
        throw b2buaError('B2BUA_SDP_INVALID', { why: `m-line ${m.index}: ${ans.encryption} offered, answered ${m.proto} (${m.encryption})` });
      }
      if (ans.encryption === 'sdes' && m.enabled && st.offeredKeys) {
        const k = keysFromAnswer(st.offeredKeys, m);
        if (!k.ok) throw b2buaError('B2BUA_SDP_INVALID', { why: k.error });
        st.srtp = { send: k.ours.key, recv: k.theirs };
      }
      if (ans.encryption === 'dtls-srtp' && m.enabled) st.dtlsRole = roleFromAnswer(m.setup);
    }
    ans.remote = answer;
    await this.configure(ans);

    const streams: OutStream[] = [];
    for (const m of theirOffer.media) {
      const a = answer.media[m.index];
      const codecs = a && a.enabled && isAv(m.kind) ? this.withTelephoneEvent(m, intersectCodecs(m.codecs, a.codecs)) : [];
      const enabled = !!a && a.enabled && isAv(m.kind) && m.enabled && hasMediaCodec(codecs);
      if (!enabled) {
        streams.push(refused(m, off.encryption));
        continue;
      }
      // A pause is answered as liblinphone answers it for Flexisip: the mirror of the offer (sendonly → recvonly, inactive →
      // inactive), less what we hold ourselves; the other leg's answer does not change it. Else the other leg's answer.
      const direction = off.stream(m.index).holdOffered
        ? bothAllow(mirrorDirection(m.direction), weHold(off, m.index) ? 'sendonly' : 'sendrecv')
        : a.direction;
      streams.push(this.answerStream(off, m, codecs, direction));
    }
    return this.finishAnswer(off, streams);
  }

  /**
   * An engine that converts DTMF (sendDtmf): the offerer keeps the telephone-event it offered even when the other leg
   * did not answer it, as liblinphone negotiates each leg on its own; its events then go to the other leg as SIP INFO.
   */
  private withTelephoneEvent(offer: MediaLine, codecs: OutStream['codecs']): OutStream['codecs'] {
    if (offer.kind !== 'audio' || !this.session.sendDtmf || codecs.some(isTelephoneEvent)) return codecs;
    const te = offer.codecs.find(isTelephoneEvent);
    return te ? [...codecs, te] : codecs;
  }

  /**
   * An engine that converts DTMF (sendDtmf): an audio offer without telephone-event gets one on the other leg, as
   * liblinphone always offers it for Flexisip's B2BUA; a peer that answers it sends RFC 4733, converted to SIP INFO
   * towards the offerer (and its INFO to RFC 4733). At the first media codec's clock rate (8000 when there is one), on
   * PT 101 or the first free dynamic PT.
   */
  private offeredTelephoneEvent(kind: MediaKind, codecs: Codec[]): Codec[] {
    if (kind !== 'audio' || !this.session.sendDtmf || codecs.some(isTelephoneEvent) || !hasMediaCodec(codecs)) return codecs;
    const used = new Set(codecs.map((c) => c.pt));
    const pt = [101, ...Array.from({ length: 32 }, (_, i) => 96 + i)].find((p) => !used.has(p));
    if (pt === undefined) return codecs;
    const media = codecs.filter((c) => !isTelephoneEvent(c) && c.name.toLowerCase() !== 'cn');
    const rate = media.some((c) => c.rate === 8000) ? 8000 : media[0]!.rate;
    return [...codecs, { pt, name: 'telephone-event', rate, fmtp: '0-15', rtcpFb: [] }];
  }

  /** telephone-event in both our SDP and the peer's for a stream (RFC 4733 negotiated on this leg), with the peer's PT. */
  telephoneEvent(leg: LegId, index: number): { pt: number; clockRate: number } | undefined {
    const ours = this.legs[leg].local?.[index];
    const theirs = this.legs[leg].remote?.media[index];
    if (!ours?.enabled || !theirs?.enabled || ours.kind !== 'audio' || !ours.codecs.some(isTelephoneEvent)) return undefined;
    const te = theirs.codecs.find(isTelephoneEvent);
    return te ? { pt: te.pt, clockRate: te.rate || 8000 } : undefined;
  }

  /** Answer an offer from `from` ourselves, keeping what was negotiated (a change the other leg need not see). */
  async answerLocally(from: LegId, offer: ParsedSdp): Promise<string> {
    const leg = this.legs[from];
    const previous = leg.local ?? [];
    const streams: OutStream[] = [];
    for (const m of offer.media) {
      const prev = previous[m.index];
      const codecs = prev && prev.enabled && m.enabled && isAv(m.kind) ? intersectCodecs(m.codecs, prev.codecs) : [];
      if (!prev || !prev.enabled || !hasMediaCodec(codecs)) {
        streams.push(refused(m, leg.encryption));
        continue;
      }
      streams.push(this.answerStream(leg, m, codecs, prev.direction));
    }
    leg.remote = offer;
    return this.finishAnswer(leg, streams);
  }

  /** Our ICE attributes for a stream when ICE is on (an offer always; an answer when the peer's offer had ICE). */
  private ourIce(leg: LegState, ep: LocalEndpoint | undefined, withRtcp: boolean): OutStream['ice'] {
    if (!this.iceSettings || !ep) return undefined;
    return { ufrag: leg.ice.ufrag, pwd: leg.ice.pwd, candidates: iceCandidates(ep, withRtcp, this.iceSettings.natAddresses) };
  }

  private answerStream(leg: LegState, m: MediaLine, codecs: OutStream['codecs'], direction: Direction): OutStream {
    const st = leg.stream(m.index);
    let crypto: OfferedKey[] | undefined;
    let setup: 'active' | 'passive' | undefined;
    if (leg.encryption === 'sdes') {
      const known = st.srtp && m.crypto.find((c) => c.suite === st.srtp!.send.suite);
      if (known && st.srtp) {
        crypto = [{ tag: known.tag, key: st.srtp.send }];
        st.srtp = { send: st.srtp.send, recv: { suite: known.suite as SrtpKey['suite'], keySalt: known.keySalt, ...(known.mki ? { mki: known.mki } : {}) } };
      } else {
        const k = answerKeys(m, leg.suites.length > 0 ? leg.suites : m.crypto.map((c) => c.suite) as SrtpSuite[]);
        if (!k.ok) throw b2buaError('B2BUA_SDP_INVALID', { why: k.error });
        crypto = [k.ours];
        st.srtp = { send: k.ours.key, recv: k.theirs };
      }
    }
    if (leg.encryption === 'dtls-srtp') {
      const s = answerSetup(m.setup);
      setup = s.setup;
      st.dtlsRole = s.role;
    }
    const endpoint = leg.endpoints.get(m.index);
    return {
      kind: m.kind, enabled: true, endpoint, codecs, direction, rtcpMux: m.rtcpMux, ptime: m.ptime, maxptime: m.maxptime,
      encryption: leg.encryption, avpf: m.avpf, crypto, setup,
      ice: m.ice ? this.ourIce(leg, endpoint, !m.rtcpMux) : undefined,
    };
  }

  private async finishAnswer(leg: LegState, streams: OutStream[]): Promise<string> {
    for (const [i, s] of streams.entries()) {
      if (s.enabled && !s.endpoint) {
        const ep = await this.endpoint(leg, i, s.kind as MediaKind);
        streams[i] = { ...s, endpoint: ep };
      }
    }
    if (!streams.some((s) => s.enabled)) throw b2buaError('B2BUA_SDP_INVALID', { why: 'no common codec between the two legs' });
    const text = this.render(leg, streams);
    await this.configure(leg);
    return text;
  }

  /** Our current SDP for a leg (offerless re-INVITE, session refresh). */
  currentSdp(leg: LegId): string {
    return this.legs[leg].localSdp;
  }

  /** The peer answered an offer we sent on our own (offerless re-INVITE / refresh). */
  async acceptAnswer(leg: LegId, answer: ParsedSdp): Promise<void> {
    this.legs[leg].remote = answer;
    this.legs[leg].awaitingRemote = false;
    await this.configure(this.legs[leg]);
  }

  /** The remote SDP changed in a way the other leg must see (stream added/removed/enabled, direction). */
  needsForwarding(from: LegId, offer: ParsedSdp): boolean {
    const prev = this.legs[from].remote;
    if (!prev || prev.media.length !== offer.media.length) return true;
    return offer.media.some((m, i) => {
      const p = prev.media[i]!;
      return p.enabled !== m.enabled || p.direction !== m.direction || p.kind !== m.kind;
    });
  }

  /** ICE for the engine: our credentials, the peer's ufrag, the addresses its checks may come from (its candidates and c=). */
  private streamIce(leg: LegState, theirs: MediaLine, rtcpMux: boolean): NonNullable<StreamParams['ice']> {
    const ice = theirs.ice!;
    const addresses = new Set([theirs.address, ...ice.candidates.filter((c) => c.component === 1 || (!rtcpMux && c.component === 2)).map((c) => c.ip)]);
    return { localUfrag: leg.ice.ufrag, localPwd: leg.ice.pwd, remoteUfrag: ice.ufrag, remoteAddresses: [...addresses].filter((a) => net.isIP(a) !== 0) };
  }

  /** Push a leg's negotiated state to the media session. */
  async configure(leg: LegState): Promise<void> {
    const local = leg.local;
    const remote = leg.remote;
    if (!local || leg.awaitingRemote) return;
    const streams: StreamParams[] = [];
    for (const [i, ours] of local.entries()) {
      if (!isAv(ours.kind) || !leg.endpoints.has(i)) continue;
      const theirs = remote?.media[i];
      const enabled = ours.enabled && !!theirs && theirs.enabled;
      const st = leg.stream(i);
      const rtcpMux = ours.rtcpMux && !!theirs?.rtcpMux;
      streams.push({
        index: i,
        kind: ours.kind,
        enabled,
        ...(theirs && enabled ? { remote: { address: theirs.address, rtpPort: theirs.port, rtcpPort: rtcpMux ? theirs.port : theirs.rtcpPort } } : {}),
        rtcpMux,
        direction: theirs ? negotiatedDirection(ours.direction, theirs.direction) : mirrorDirection(ours.direction),
        payloadTypes: ours.codecs.map((c) => c.pt),
        ...(this.telephoneEvent(leg.id, i) ? { telephoneEvent: this.telephoneEvent(leg.id, i)! } : {}),
        encryption: leg.encryption,
        ...(st.srtp ? { srtp: st.srtp } : {}),
        ...(leg.encryption === 'dtls-srtp' && st.dtlsRole && theirs?.fingerprint ? { dtls: { role: st.dtlsRole, remoteFingerprint: theirs.fingerprint } } : {}),
        ...(leg.encryption === 'zrtp' ? { zrtp: theirs?.zrtpHash ? { peerHelloHash: theirs.zrtpHash } : {} } : {}),
        ...(ours.ice && theirs?.ice && enabled ? { ice: this.streamIce(leg, theirs, rtcpMux) } : {}),
      });
    }
    const params: LegParams = { streams };
    await this.session.configure(leg.id, params);
  }
}

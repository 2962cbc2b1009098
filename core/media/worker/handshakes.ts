/**
 * The DTLS-SRTP associations and ZRTP sessions of one call, held outside its pipeline.
 *
 * Each one lives in the C plugin's shared state (core/native/b2bshared.h), keyed by a connection id: the
 * pipeline's b2bdtls / b2bzrtp instances carry packets, and one "holder" instance per connection, kept
 * here for the whole call, owns the state so that a pipeline rebuilt for a re-INVITE carries on with the
 * same handshake and keys. Everything is read by polling the holders' properties.
 *
 * DTLS: one association per socket (RTP, and RTCP when not muxed, RFC 5764 section 4.1); a re-INVITE that
 * keeps the peer's fingerprint and our role keeps it, a changed one starts a new association (new id).
 * ZRTP: one bzrtp context per leg, one channel per stream (its own SSRC); the first stream does the key
 * agreement, the others follow in multistream mode.
 */
import { randomInt } from 'node:crypto';
import type { LegId } from '../../vocabulary/index.js';
import type { MediaEvent, StreamParams, StreamSecurity } from '../types.js';
import { Element } from './gst.js';
import type { WorkerSecurity } from './protocol.js';

export type Component = 'rtp' | 'rtcp';

/** What the pipeline needs to place a handshake element on a leg's stream. */
export interface HandshakeShape {
  readonly element: 'b2bdtls' | 'b2bzrtp';
  /** connection-id of the element on the RTP socket. */
  readonly rtpId: string;
  /** DTLS without rtcp-mux: the RTCP socket's own association. */
  readonly rtcpId?: string | undefined;
  /** ZRTP: the stream's channel. */
  readonly ssrc?: number | undefined;
}

/** SRTP parameters for the b2bsrtp elements (`srtp-params`). */
export interface HandshakeKeys {
  readonly send: string;
  readonly recv: string;
}

interface Connection {
  readonly id: string;
  readonly holder: Element;
  reported: boolean;
  /** We set the holder's `active` (it may send). */
  active: boolean;
  /** Read once the handshake gave them: a connection's keys never change (a new handshake is a new connection). */
  keys?: HandshakeKeys;
}

interface DtlsConnection extends Connection {
  readonly role: 'client' | 'server';
  readonly remoteFingerprint: string;
}

interface ZrtpChannel extends Connection {
  readonly ssrc: number;
  peerHelloHash: string;
}

/** Our URIs in the ZID cache: retained secrets are found by the peer's ZID, so one constant pair serves every call. */
const ZID_SELF_URI = 'sip:b2bua-server@zrtp.invalid';
const ZID_PEER_URI = 'sip:peer@zrtp.invalid';

export type HandshakeEvent = Extract<MediaEvent, { type: 'failed' | 'dtls-connected' | 'zrtp-secured' }>;

const connected = (state: string): boolean => state === 'connected' || state === 'secured';

export class Handshakes {
  private readonly dtls = new Map<string, DtlsConnection>();
  private readonly zrtp = new Map<string, ZrtpChannel>();
  private generation = 0;

  constructor(private readonly sessionId: string, private readonly security: WorkerSecurity) {}

  /** Our a=zrtp-hash for a stream: creates its ZRTP channel (the SDP needs it before any pipeline exists). */
  zrtpHelloHash(leg: LegId, index: number): string {
    return this.zrtpChannel(leg, index).holder.string('hello-hash');
  }

  private zrtpChannel(leg: LegId, index: number): ZrtpChannel {
    const key = `${leg}${index}`;
    let ch = this.zrtp.get(key);
    if (!ch) {
      const holder = Element.create('b2bzrtp');
      const ssrc = randomInt(1, 2 ** 32 - 1);
      holder.set('cache-path', this.security.zidCachePath);
      holder.set('self-uri', ZID_SELF_URI);
      holder.set('peer-uri', ZID_PEER_URI);
      holder.set('ssrc', ssrc);
      const id = `${this.sessionId}_${leg}_zrtp`;
      holder.set('connection-id', id);
      ch = { id, holder, ssrc, peerHelloHash: '', reported: false, active: false };
      this.zrtp.set(key, ch);
    }
    return ch;
  }

  /** Bring the stream's handshake in line with its parameters; `undefined` when it has none. */
  configure(leg: LegId, s: StreamParams): HandshakeShape | undefined {
    if (!s.enabled) return undefined;
    const mayStart = s.remote !== undefined;
    if (s.encryption === 'zrtp') {
      const ch = this.zrtpChannel(leg, s.index);
      const hash = s.zrtp?.peerHelloHash ?? '';
      if (hash !== ch.peerHelloHash) {
        ch.holder.set('peer-hello-hash', hash);
        ch.peerHelloHash = hash;
      }
      if (mayStart) this.activate(ch);
      return { element: 'b2bzrtp', rtpId: ch.id, ssrc: ch.ssrc };
    }
    if (s.encryption === 'dtls-srtp' && s.dtls) {
      const rtp = this.dtlsConnection(leg, s, 'rtp', mayStart);
      const rtcp = s.rtcpMux ? undefined : this.dtlsConnection(leg, s, 'rtcp', mayStart);
      return { element: 'b2bdtls', rtpId: rtp.id, rtcpId: rtcp?.id };
    }
    return undefined;
  }

  private dtlsConnection(leg: LegId, s: StreamParams, component: Component, mayStart: boolean): DtlsConnection {
    const key = `${leg}${s.index}${component}`;
    const { role, remoteFingerprint } = s.dtls!;
    let c = this.dtls.get(key);
    if (!c || c.role !== role || c.remoteFingerprint.toLowerCase() !== remoteFingerprint.toLowerCase()) {
      if (c) this.release(c);
      const holder = Element.create('b2bdtls');
      holder.set('pem', this.security.dtlsPem);
      holder.set('is-client', role === 'client');
      holder.set('remote-fingerprint', remoteFingerprint);
      const id = `${this.sessionId}_${key}_${++this.generation}`;
      holder.set('connection-id', id);
      c = { id, holder, role, remoteFingerprint, reported: false, active: false };
      this.dtls.set(key, c);
    }
    if (mayStart) this.activate(c);
    return c;
  }

  private activate(c: Connection): void {
    if (c.active) return;
    c.holder.set('active', true);
    c.active = true;
  }

  /** The b2bsrtp parameters once the handshake gave keys (and, for DTLS, the fingerprint matched). */
  keys(leg: LegId, s: StreamParams, component: Component): HandshakeKeys | undefined {
    const c = this.connectionOf(leg, s, component);
    if (!c) return undefined;
    if (c.keys) return c.keys;
    if (!connected(c.holder.string('state'))) return undefined;
    const send = c.holder.string('srtp-send');
    const recv = c.holder.string('srtp-recv');
    if (send && recv) c.keys = { send, recv };
    return c.keys;
  }

  private connectionOf(leg: LegId, s: StreamParams, component: Component): DtlsConnection | ZrtpChannel | undefined {
    if (s.encryption === 'zrtp') return this.zrtp.get(`${leg}${s.index}`);
    if (s.encryption !== 'dtls-srtp') return undefined;
    return this.dtls.get(`${leg}${s.index}${s.rtcpMux ? 'rtp' : component}`);
  }

  /** True while a handshake of this call has neither succeeded nor failed (the worker polls faster then). */
  get pending(): boolean {
    return [...this.dtls.values(), ...this.zrtp.values()].some((c) => !c.reported && c.active);
  }

  /** Handshakes that finished or failed since the last call. */
  poll(): HandshakeEvent[] {
    const events: HandshakeEvent[] = [];
    const check = (c: Connection, leg: LegId, kind: 'dtls' | 'zrtp', what: string): void => {
      if (c.reported) return;
      const state = c.holder.string('state');
      if (state === 'failed') {
        c.reported = true;
        events.push({ type: 'failed', handshake: kind, reason: `${kind === 'dtls' ? 'DTLS-SRTP' : 'ZRTP'} on leg ${leg} ${what}: ${c.holder.string('error') || 'handshake failed'}` });
      } else if (connected(state)) {
        c.reported = true;
        const detail = kind === 'dtls' ? c.holder.string('profile') : `SAS ${c.holder.string('sas')}, ${c.holder.string('cipher')}/${c.holder.string('auth-tag')}/${c.holder.string('key-agreement')}`;
        events.push({ type: kind === 'dtls' ? 'dtls-connected' : 'zrtp-secured', leg, detail: `${what}: ${detail}` });
      }
    };
    for (const [key, c] of this.dtls) check(c, key[0] as LegId, 'dtls', `stream ${key.slice(1).replace(/(rtp|rtcp)$/, ' $1')}`);
    for (const [key, c] of this.zrtp) check(c, key[0] as LegId, 'zrtp', `stream ${key.slice(1)}`);
    return events;
  }

  /** The security part of a stream's report. */
  report(leg: LegId, s: StreamParams | undefined, heldPackets: number): StreamSecurity | undefined {
    if (!s || s.encryption === 'none') return undefined;
    if (s.encryption === 'sdes') return s.srtp ? { mode: 'sdes', suite: s.srtp.send.suite } : { mode: 'sdes' };
    const c = this.connectionOf(leg, s, 'rtp');
    if (!c) return { mode: s.encryption, state: 'handshaking', heldPackets };
    const h = c.holder;
    const raw = h.string('state');
    const state = raw === 'failed' ? 'failed' : connected(raw) ? 'secured' : 'handshaking';
    const suite = h.string('srtp-send').split(' ')[0] || undefined;
    const base = { mode: s.encryption, state, heldPackets, ...(suite ? { suite } : {}), ...(h.string('error') ? { error: h.string('error') } : {}) } as const;
    if (s.encryption === 'dtls-srtp') {
      const peerFingerprint = h.string('peer-fingerprint');
      return { ...base, dtls: { role: (c as DtlsConnection).role, fingerprintVerified: raw === 'connected', ...(peerFingerprint ? { peerFingerprint } : {}) } };
    }
    return {
      ...base,
      zrtp: {
        sas: h.string('sas'), sasType: h.string('sas-type'), cipher: h.string('cipher'), authTag: h.string('auth-tag'),
        keyAgreement: h.string('key-agreement'), hash: h.string('hash'), cacheHit: h.boolean('cache-hit'), cacheMismatch: h.boolean('cache-mismatch'),
      },
    };
  }

  private release(c: Connection): void {
    c.holder.set('connection-id', '');
  }

  /** End every association and session of the call. */
  close(): void {
    for (const c of this.dtls.values()) this.release(c);
    for (const c of this.zrtp.values()) this.release(c);
    this.dtls.clear();
    this.zrtp.clear();
  }
}

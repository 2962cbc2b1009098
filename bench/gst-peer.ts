/**
 * A far-end peer for bench/handshakes.ts: one GStreamer pipeline in this (the load generator's) process, made of
 * our own elements, on one loopback UDP socket with rtcp-mux, that really speaks the leg's key agreement:
 *
 *   audiotestsrc (live, 160 samples = 20 ms) ! mulawenc ! rtppcmupay ! b2bsrtp protect ! [funnel !] udpsink(socket)
 *   udpsrc(socket) ! b2bingress ! b2bsrtp unprotect ! udpsink -> the bench's "tap" socket (decrypted RTP)
 *   b2bingress.dtls_src ! b2bdtls ! funnel      (dtls-srtp)      b2bingress.zrtp_src ! b2bzrtp ! funnel      (zrtp)
 *
 * The pipeline plays from construction (a phone's media is ready before the offer/answer; a record that arrives
 * early is not left waiting in the socket); its media stays behind a valve, and the handshake is not `active`, until
 * `start()`. SDES: the keys are set as they are known. DTLS-SRTP / ZRTP: both b2bsrtp start at "hold" and get the handshake's
 * keys when `poll()` sees it finished (polled properties, as the media worker does; no JavaScript signal handler).
 * Only packets b2bsrtp authenticated reach the tap, so a packet there is "media authenticated at the far end".
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { SrtpKey } from '../core/media/types.js';
import type { Element, Pipeline, UdpSocket } from '../core/media/worker/gst.js';

export type PeerMode = 'sdes' | 'dtls-srtp' | 'zrtp';

type Gst = typeof import('../core/media/worker/gst.js');
let gst: Gst | undefined;

/** node-gtk and our plugin in this process (the engine's workers load it themselves). */
export async function initPeers(pluginDir: string): Promise<void> {
  process.env['GST_PLUGIN_PATH'] = [pluginDir, process.env['GST_PLUGIN_PATH']].filter(Boolean).join(':');
  gst = await import('../core/media/worker/gst.js');
  gst.initGst();
}

export interface PeerOptions {
  readonly mode: PeerMode;
  /** Where decrypted (authenticated) RTP goes: the bench's tap socket. */
  readonly tapPort: number;
  /** DTLS: our certificate and key (PEM) and a=setup role. */
  readonly pem?: string;
  readonly dtlsClient?: boolean;
  /** SDES: the key we send with (our a=crypto). */
  readonly sdesSend?: SrtpKey;
}

const srtpParams = (k: SrtpKey): string => `${k.suite} ${k.keySalt}`;

export class GstPeer {
  readonly socket: UdpSocket;
  /** SSRC of the RTP we send (the far peer's tap sees it: the engine relays it unchanged). */
  readonly ssrc = randomInt(1, 2 ** 32 - 1);
  private readonly pipeline: Pipeline;
  private readonly hs: Element | undefined;
  private readonly enc: Element;
  private readonly dec: Element;
  private keyed = false;
  private failed = '';
  started = false;
  /** performance.now() when the handshake's keys were in our b2bsrtp (SDES: at start). */
  keyedAt = 0;

  constructor(private readonly o: PeerOptions) {
    if (!gst) throw new Error('initPeers() first');
    this.socket = gst.UdpSocket.bind('127.0.0.1', 0);
    const id = `peer-${randomBytes(6).toString('hex')}`;
    const handshake = o.mode !== 'sdes';
    const sink = 'sync=false async=false close-socket=false host=127.0.0.1';
    const parts = [
      `audiotestsrc is-live=true samplesperbuffer=160 wave=sine freq=440 ! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay pt=0 ssrc=${this.ssrc} ! valve name=gate drop=true ! ` +
        `b2bsrtp name=enc mode=protect${handshake ? ' srtp-params=hold' : ''} ! ${handshake ? 'funnel name=out ! ' : ''}udpsink name=usink ${sink} port=9`,
      'udpsrc name=usrc close-socket=false ! b2bingress name=in remote-address=127.0.0.1',
      `in.src ! b2bsrtp name=dec mode=unprotect${handshake ? ' srtp-params=hold' : ''} ! udpsink name=tap sync=false async=false host=127.0.0.1 port=${o.tapPort}`,
    ];
    // ssrc before connection-id: the element binds to (connection-id, ssrc). No ZID cache: a new ZID per peer,
    // i.e. every call is a first call for the engine's cache (no retained secret).
    if (o.mode === 'dtls-srtp') parts.push(`in.dtls_src ! b2bdtls name=hs is-client=${o.dtlsClient ? 'true' : 'false'} connection-id=${id} ! out.`);
    if (o.mode === 'zrtp') parts.push(`in.zrtp_src ! b2bzrtp name=hs ssrc=${this.ssrc} connection-id=${id} ! out.`);
    this.pipeline = gst.Pipeline.parse(parts.join('  '));
    this.pipeline.element('usrc').set('socket', this.socket);
    this.pipeline.element('usink').set('socket', this.socket);
    this.enc = this.pipeline.element('enc');
    this.dec = this.pipeline.element('dec');
    this.hs = handshake ? this.pipeline.element('hs') : undefined;
    if (o.mode === 'dtls-srtp') this.hs!.set('pem', o.pem ?? '');
    if (o.mode === 'sdes' && o.sdesSend) this.enc.set('srtp-params', srtpParams(o.sdesSend));
    this.pipeline.play();
  }

  /** ZRTP: our a=zrtp-hash (creates the bzrtp context). */
  helloHash(): string {
    return this.hs?.string('hello-hash') ?? '';
  }

  /**
   * The other side's SDP is known: its media port, and its key (SDES), certificate fingerprint (DTLS) or
   * a=zrtp-hash (ZRTP). Opens the media valve and lets the handshake start.
   */
  start(remote: { rtpPort: number; sdesRecv?: SrtpKey; fingerprint?: string; zrtpHash?: string }): void {
    this.pipeline.element('usink').set('port', remote.rtpPort);
    if (this.o.mode === 'sdes' && remote.sdesRecv) this.dec.set('srtp-params', srtpParams(remote.sdesRecv));
    if (this.o.mode === 'dtls-srtp') this.hs!.set('remote-fingerprint', remote.fingerprint ?? '');
    if (this.o.mode === 'zrtp') this.hs!.set('peer-hello-hash', remote.zrtpHash ?? '');
    this.pipeline.element('gate').set('drop', false);
    if (this.hs) this.hs.set('active', true);
    else {
      this.keyed = true;
      this.keyedAt = performance.now();
    }
    this.started = true;
  }

  /** True while the handshake is under way (call `poll()` then). */
  get pending(): boolean {
    return this.started && !this.keyed && !this.failed;
  }

  /** The handshake's keys into both b2bsrtp once it is done; its error if it failed. */
  poll(now: number): void {
    if (!this.pending || !this.hs) return;
    const state = this.hs.string('state');
    if (state === 'failed') {
      this.failed = this.hs.string('error') || 'handshake failed';
      return;
    }
    if (state !== 'connected' && state !== 'secured') return;
    const send = this.hs.string('srtp-send');
    const recv = this.hs.string('srtp-recv');
    if (!send || !recv) return;
    this.enc.set('srtp-params', send);
    this.dec.set('srtp-params', recv);
    this.keyed = true;
    this.keyedAt = now;
  }

  get error(): string {
    return this.failed;
  }

  /** Counters of our unprotecting b2bsrtp. */
  counters(): { authenticated: number; authFailures: number; held: number } {
    return { authenticated: this.dec.number('packets'), authFailures: this.dec.number('auth-failures'), held: this.dec.number('held') };
  }

  /** DTLS: flights this peer sent again after OpenSSL's timer (1 s, doubling) ran out. */
  get retransmissions(): number {
    return this.o.mode === 'dtls-srtp' ? this.hs!.number('retransmissions') : 0;
  }

  close(): void {
    this.pipeline.stop();
    this.hs?.set('connection-id', '');
    this.socket.close();
  }
}

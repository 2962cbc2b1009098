/**
 * The gst-launch description of one call's pipeline (pure: unit-tested without GStreamer).
 *
 * Per stream index i and leg X (the other leg is Y), when X's stream is active:
 *   b2bsocketsrc(X rtp socket) ! b2bingress  --src-->  b2bsrtp unprotect(X key) ! [b2bdtmf !] [Y egress | drop]
 *                                      --rtcp_src--> (funnel) ! b2bsrtp unprotect ! [Y rtcp egress | drop]
 *   without rtcp-mux also b2bsocketsrc(X rtcp socket) ! b2bingress whose rtcp_src joins the funnel.
 * Y egress: valve (direction / remote known) ! b2bsrtp protect(Y key) ! b2bsocketsink(Y socket).
 * Every socket is read by the worker's one poller thread (core/native/b2bpoller.c), which pushes through the whole
 * path; no element here may block a push (no GstBaseSink: b2bsocketsink also stands in for fakesink).
 * A DTLS-SRTP or ZRTP leg also has its handshake element: b2bingress's dtls_src / zrtp_src ! b2bdtls / b2bzrtp,
 * whose packets join the leg's SRTP on the way out through a funnel before the b2bsocketsink
 * (DTLS without rtcp-mux: a second association on the RTCP socket, same shape).
 * b2bdtmf (`dtmf`: only one leg negotiated telephone-event) detects and drops X's RFC 4733 events, or inserts events
 * towards Y (core/native/b2bdtmf.c).
 * Sockets are set afterwards (Gio.Socket objects cannot be written in a description).
 */
import type { LegId } from '../../vocabulary/index.js';
import type { HandshakeShape } from './handshakes.js';

export interface LegStreamShape {
  readonly rtcpMux: boolean;
  readonly handshake?: HandshakeShape | undefined;
}

export interface StreamShape {
  readonly index: number;
  /** Present when that leg's stream is allocated and enabled. */
  readonly a?: LegStreamShape | undefined;
  readonly b?: LegStreamShape | undefined;
  /** Both legs active and only one negotiated telephone-event: a b2bdtmf on each direction's RTP path. */
  readonly dtmf?: boolean | undefined;
}

export const other = (leg: LegId): LegId => (leg === 'a' ? 'b' : 'a');

/** Element names for one leg/stream; `rtcp*` ones exist only as the shape requires. */
export function elementNames(leg: LegId, index: number) {
  const s = `${leg}${index}`;
  return {
    rtpSrc: `usrc_${s}`, rtcpSrc: `usrcc_${s}`,
    rtpIngress: `in_${s}`, rtcpIngress: `inc_${s}`,
    rtpDecrypt: `dec_${s}`, rtcpDecrypt: `decc_${s}`,
    rtpGate: `gate_${s}`, rtcpGate: `gatec_${s}`,
    rtpEncrypt: `enc_${s}`, rtcpEncrypt: `encc_${s}`,
    rtpSink: `usink_${s}`, rtcpSink: `usinkc_${s}`,
    rtcpFunnel: `fun_${s}`,
    rtpOut: `out_${s}`, rtcpOut: `outc_${s}`,
    rtpHandshake: `hs_${s}`, rtcpHandshake: `hsc_${s}`,
    /** On the RTP path from this leg to the other: detects this leg's events, inserts the other leg's. */
    rtpDtmf: `dtmf_${s}`,
  };
}

/** A drop (no socket): where a stream's packets have no other leg to go to. */
const SINK = 'b2bsocketsink';

/** The gates stay closed until the peer's address is known; the sink sends nothing before its host and port are set. */
function egress(leg: LegId, index: number, shape: LegStreamShape): string[] {
  const n = elementNames(leg, index);
  const out = (funnel: string, sink: string, viaFunnel: boolean): string[] =>
    viaFunnel ? [`${funnel}.`, `funnel name=${funnel} ! b2bsocketsink name=${sink}`] : [`b2bsocketsink name=${sink}`, ''];
  const [rtpTo, rtpFunnel] = out(n.rtpOut, n.rtpSink, shape.handshake !== undefined);
  const [rtcpTo, rtcpFunnel] = out(n.rtcpOut, n.rtcpSink, shape.handshake?.rtcpId !== undefined);
  return [
    rtpFunnel!, rtcpFunnel!,
    `valve name=${n.rtpGate} drop=true ! b2bsrtp name=${n.rtpEncrypt} mode=protect ! ${rtpTo}`,
    `valve name=${n.rtcpGate} drop=true ! b2bsrtp name=${n.rtcpEncrypt} mode=protect ! ${rtcpTo}`,
  ].filter((part) => part !== '');
}

/** The handshake element of a leg's stream, between its ingress and its egress funnel. */
function handshake(leg: LegId, index: number, h: HandshakeShape): string[] {
  const n = elementNames(leg, index);
  const pad = h.element === 'b2bdtls' ? 'dtls_src' : 'zrtp_src';
  const ssrc = h.ssrc !== undefined ? ` ssrc=${h.ssrc}` : '';
  const parts = [`${n.rtpIngress}.${pad} ! ${h.element} name=${n.rtpHandshake} connection-id=${h.rtpId}${ssrc} ! ${n.rtpOut}.`];
  if (h.rtcpId) parts.push(`${n.rtcpIngress}.${pad} ! ${h.element} name=${n.rtcpHandshake} connection-id=${h.rtcpId} ! ${n.rtcpOut}.`);
  return parts;
}

function ingress(leg: LegId, index: number, shape: LegStreamShape, toActive: boolean, dtmf: boolean): string[] {
  const n = elementNames(leg, index);
  const to = elementNames(other(leg), index);
  const rtpDest = toActive ? `${dtmf ? `b2bdtmf name=${n.rtpDtmf} ! ` : ''}${to.rtpGate}.` : SINK;
  const rtcpDest = toActive ? `${to.rtcpGate}.` : SINK;
  const parts = [
    `b2bsocketsrc name=${n.rtpSrc} ! b2bingress name=${n.rtpIngress}`,
    `${n.rtpIngress}.src ! b2bsrtp name=${n.rtpDecrypt} mode=unprotect ! ${rtpDest}`,
  ];
  const rtcpDecrypt = `b2bsrtp name=${n.rtcpDecrypt} mode=unprotect ! ${rtcpDest}`;
  if (shape.rtcpMux) {
    parts.push(`${n.rtpIngress}.rtcp_src ! ${rtcpDecrypt}`);
  } else {
    parts.push(
      `b2bsocketsrc name=${n.rtcpSrc} ! b2bingress name=${n.rtcpIngress}`,
      `funnel name=${n.rtcpFunnel} ! ${rtcpDecrypt}`,
      `${n.rtpIngress}.rtcp_src ! ${n.rtcpFunnel}.`,
      `${n.rtcpIngress}.rtcp_src ! ${n.rtcpFunnel}.`,
      `${n.rtcpIngress}.src ! ${SINK}`,
    );
  }
  if (shape.handshake) parts.push(...handshake(leg, index, shape.handshake));
  return parts;
}

export function describePipeline(streams: readonly StreamShape[]): string {
  const parts: string[] = [];
  for (const s of streams) {
    for (const leg of ['a', 'b'] as const) {
      const shape = s[leg];
      if (shape) parts.push(...egress(leg, s.index, shape));
    }
    for (const leg of ['a', 'b'] as const) {
      const shape = s[leg];
      if (shape) parts.push(...ingress(leg, s.index, shape, s[other(leg)] !== undefined, s.dtmf === true));
    }
  }
  return parts.join('  ');
}

function legKey(shape: LegStreamShape | undefined): string {
  if (!shape) return '-';
  const h = shape.handshake;
  return `${shape.rtcpMux ? 'm' : 's'}${h ? `(${h.element} ${h.rtpId} ${h.rtcpId ?? ''} ${h.ssrc ?? ''})` : ''}`;
}

/** Equal keys = same pipeline shape: a configure() that keeps it only updates properties. */
export function shapeKey(streams: readonly StreamShape[]): string {
  return streams
    .filter((s) => s.a || s.b)
    .map((s) => `${s.index}:${legKey(s.a)}${legKey(s.b)}${s.dtmf ? 'd' : ''}`)
    .join(',');
}

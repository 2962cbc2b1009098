/**
 * The only module that touches node-gtk: GStreamer pipelines, elements and Gio sockets
 * behind a small typed surface. Never connects a JavaScript handler to a GStreamer
 * signal (node-gtk would block the streaming thread on the JS thread: deadlock hazard);
 * state is read by polling properties and the bus.
 */
import gi from 'node-gtk';
import { b2buaError } from '../../errors/index.js';

let Gst: any;
let Gio: any;

export interface GstInfo {
  readonly version: string;
  /** Suites the b2bsrtp element (libsrtp2 build) can do. */
  readonly srtpSuites: string[];
  /** The key-agreement modes whose elements this build has (b2bdtls, b2bzrtp). */
  readonly handshakes: ('dtls-srtp' | 'zrtp')[];
  /** Who does b2bsrtp's AES-CM and HMAC-SHA1: "openssl" (core/native/b2bsrtpcrypto.c), or "libsrtp" when it refused that. */
  readonly srtpCrypto: string;
}

export function initGst(): GstInfo {
  if (!Gst) {
    Gst = gi.require('Gst', '1.0');
    Gio = gi.require('Gio', '2.0');
    Gst.init(null);
  }
  const probe = Gst.ElementFactory.make('b2bsrtp', null);
  if (!probe) {
    throw b2buaError('B2BUA_GST_ELEMENT_MISSING', {
      element: 'b2bsrtp', problem: `not found (GST_PLUGIN_PATH=${process.env['GST_PLUGIN_PATH'] ?? ''})`, fix: 'build it with "make -C core/native"',
    });
  }
  // A plugin built before the socket elements existed would otherwise fail every call's pipeline with a parse error.
  for (const ours of ['b2bsocketsrc', 'b2bsocketsink']) {
    if (!Gst.ElementFactory.find(ours)) {
      throw b2buaError('B2BUA_GST_ELEMENT_MISSING', { element: ours, problem: 'is missing from the native plugin (built before it existed)', fix: 'rebuild it with "make -C core/native"' });
    }
  }
  for (const needed of ['valve', 'funnel']) {
    if (!Gst.ElementFactory.find(needed)) {
      throw b2buaError('B2BUA_GST_ELEMENT_MISSING', { element: needed, problem: 'is missing', fix: 'install gstreamer1.0-plugins-good/base' });
    }
  }
  const suites = String(probe.supportedSuites ?? '').split(' ').filter(Boolean);
  const handshakes = ([['dtls-srtp', 'b2bdtls'], ['zrtp', 'b2bzrtp']] as const).filter(([, el]) => Gst.ElementFactory.find(el)).map(([mode]) => mode);
  return { version: String(Gst.version().join('.')), srtpSuites: suites, handshakes, srtpCrypto: String(probe.crypto ?? '') };
}

function camel(prop: string): string {
  return prop.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** A bound UDP socket shared by the b2bsocketsrc and b2bsocketsinks of one leg/stream (symmetric RTP). */
export class UdpSocket {
  private constructor(readonly handle: unknown, readonly port: number) {}

  /** Throws an Error whose message contains "in use" when the port is taken. */
  static bind(address: string, port: number): UdpSocket {
    const family = address.includes(':') ? Gio.SocketFamily.IPV6 : Gio.SocketFamily.IPV4;
    const sock = Gio.Socket.new(family, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP);
    try {
      // allow_reuse=false: SO_REUSEADDR on UDP would let two sockets share a port and split its traffic.
      sock.bind(Gio.InetSocketAddress.newFromString(address, port), false);
    } catch (e) {
      sock.close();
      throw e;
    }
    return new UdpSocket(sock, Number(sock.getLocalAddress().getPort()));
  }

  close(): void {
    try {
      (this.handle as any).close();
    } catch {
      /* already closed */
    }
  }
}

export class Element {
  constructor(private readonly el: any) {}

  /** A lone element outside any pipeline (the handshake holders: see core/native/b2bshared.h). */
  static create(factory: string): Element {
    const el = Gst.ElementFactory.make(factory, null);
    if (!el) throw b2buaError('B2BUA_GST_ELEMENT_MISSING', { element: factory, problem: 'not found', fix: 'build it with "make -C core/native"' });
    return new Element(el);
  }

  set(prop: string, value: string | number | boolean | UdpSocket): void {
    this.el[camel(prop)] = value instanceof UdpSocket ? value.handle : value;
  }

  number(prop: string): number {
    return Number(this.el[camel(prop)] ?? 0);
  }

  string(prop: string): string {
    return String(this.el[camel(prop)] ?? '');
  }

  boolean(prop: string): boolean {
    return this.el[camel(prop)] === true;
  }
}

export class Pipeline {
  private readonly bus: any;
  /** Every element wrapped so far, once each (see dispose()). */
  private readonly wrapped = new Map<string, any>();
  private disposed = false;
  private constructor(private readonly pipeline: any) {
    this.bus = pipeline.getBus();
  }

  static parse(description: string): Pipeline {
    return new Pipeline(Gst.parseLaunch(description));
  }

  element(name: string): Element {
    if (this.disposed) throw b2buaError('B2BUA_MEDIA_WORKER_FAILED', { why: `element "${name}" of a disposed pipeline` });
    let el = this.wrapped.get(name);
    if (!el) {
      el = this.pipeline.getByName(name);
      if (!el) throw b2buaError('B2BUA_MEDIA_WORKER_FAILED', { why: `pipeline has no element "${name}"` });
      this.wrapped.set(name, el);
    }
    return new Element(el);
  }

  /**
   * Stop, then release the pipeline, its bus and every element wrapped: node-gtk's wrappers of these GstObjects
   * are never collected (their reference is never dropped), so without this every pipeline kept its bus's poll
   * FDs and its elements for the life of the worker (bench/soak.ts: ~10 FDs per call). node-gtk's weak reference
   * clears each wrapper once its object is finalized; the wrappers are not used after this.
   */
  dispose(): void {
    if (this.disposed) return;
    this.stop();
    this.disposed = true;
    for (const el of this.wrapped.values()) el.unref();
    this.wrapped.clear();
    this.bus.unref();
    this.pipeline.unref();
  }

  play(): void {
    const r = this.pipeline.setState(Gst.State.PLAYING);
    if (r === Gst.StateChangeReturn.FAILURE) {
      const detail = this.popError();
      this.stop();
      throw b2buaError('B2BUA_GST_PIPELINE_FAILED', { detail: detail ? `: ${detail}` : '' });
    }
  }

  stop(): void {
    this.pipeline.setState(Gst.State.NULL);
  }

  /**
   * End of a finite pipeline (tests): 'eos', an error text, or undefined while running.
   * One call pops both kinds: gst_bus_pop_filtered discards what it does not match.
   */
  popEnd(): 'eos' | { error: string } | undefined {
    const msg = this.bus.popFiltered(Gst.MessageType.EOS | Gst.MessageType.ERROR);
    if (!msg) return undefined;
    if (msg.type === Gst.MessageType.EOS) return 'eos';
    return { error: describeError(msg) };
  }

  /** Next error posted on the bus since the last call, if any (polled; never a bus signal). Discards other messages. */
  popError(): string | undefined {
    const msg = this.bus.popFiltered(Gst.MessageType.ERROR);
    return msg ? describeError(msg) : undefined;
  }
}

function describeError(msg: any): string {
  try {
    const parsed = msg.parseError();
    const err = Array.isArray(parsed) ? parsed[0] : parsed;
    return `${msg.src?.name ?? '?'}: ${err?.message ?? 'GStreamer error'}`;
  } catch {
    return 'GStreamer error';
  }
}

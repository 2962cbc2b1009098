/**
 * SIP transports: UDP (one datagram = one message), TCP and TLS (stream framing by
 * Content-Length in bytes). Bind errors reject start-up instead of crashing the process
 * (npm `sip` leaves socket 'error' events unhandled), port 0 reports the port actually bound.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import { b2buaError, errorReason } from '../errors/index.js';
import type { Logger } from '../vocabulary/index.js';
import type { SipMessage } from './message.js';
import type { TransportProtocol } from './uri.js';
import { StreamFramer, type FramerError } from './stream-framer.js';

export interface HostPort {
  readonly address: string;
  readonly port: number;
}

export interface Transport {
  readonly protocol: TransportProtocol;
  readonly local: HostPort;
  /** Send bytes to a peer; stream transports reuse the peer's connection or open one. `message`: what `data` serializes (for /metrics). */
  send(to: HostPort, data: Buffer, message?: SipMessage): Promise<void>;
  close(): Promise<void>;
  /** Open connections (stream transports), for counters. */
  connections(): number;
  /** A stream connection with this peer is open (always false for UDP). */
  connected(to: HostPort): boolean;
  /** Open connections and those refused or closed by the resource bounds (zeros for UDP). */
  stats(): StreamStats;
}

export const noStreamStats = (): StreamStats => ({
  open: 0, maxFromOneAddress: 0, bufferedBytes: 0, refusedTotal: 0, refusedPerAddress: 0, headerTimeout: 0, headerTooLarge: 0, bodyTooLarge: 0, idleClosed: 0,
});

export type MessageSink = (data: Buffer, source: HostPort, transport: Transport) => void;

export interface TransportOptions {
  readonly protocol: TransportProtocol;
  readonly address: string;
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** `enable-keepalive`: TCP keep-alive probes on stream connections. */
  readonly keepalive?: boolean;
  /** Resource bounds of stream connections; defaults in DEFAULT_STREAM_LIMITS. */
  readonly limits?: Partial<StreamLimits>;
  /** UDP: SO_RCVBUF / SO_SNDBUF to ask for (the kernel caps them at net.core.rmem_max / wmem_max); default the kernel's. */
  readonly udpBufferBytes?: number;
  readonly log: Logger;
}

/**
 * What a listener's UDP socket asks for: one event loop reads it, and a pause of a few tens of milliseconds (a GC
 * scavenge, a burst) at a few hundred calls per second overflows the kernel's default 208 KB, losing requests and
 * responses that then cost a retransmission (Timer A: 500 ms) or the call.
 */
export const LISTENER_UDP_BUFFER_BYTES = 4 * 1024 * 1024;

/** Asks for `bytes` of receive and send buffer; logs what the kernel granted (Linux reports twice what it keeps). */
function sizeUdpBuffers(socket: dgram.Socket, bytes: number, log: Logger): void {
  try {
    socket.setRecvBufferSize(bytes);
    socket.setSendBufferSize(bytes);
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'SIP UDP socket: buffer size not set');
    return;
  }
  const granted = Math.floor(socket.getRecvBufferSize() / 2);
  if (granted < bytes) {
    log.info({ requestedBytes: bytes, grantedBytes: granted, fix: `sysctl -w net.core.rmem_max=${bytes} net.core.wmem_max=${bytes}` },
      'SIP UDP receive buffer capped by net.core.rmem_max: bursts may overflow it (packaging/sysctl.d/60-b2bua-server.conf)');
  }
}

export interface StreamLimits {
  /** `max-connections`: open TCP/TLS connections of this listener; further accepts are closed unread. */
  readonly maxConnections: number;
  /** `max-connections-per-address`: open connections from one source IP address. */
  readonly maxConnectionsPerAddress: number;
  /** `sip-header-timeout` (ms): a message's headers must complete this long after its first byte. */
  readonly headerTimeoutMs: number;
  /** `sip-idle-timeout` (ms): a connection with no byte in either direction for this long is closed; 0 = never. */
  readonly idleTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxConnections: 4096,
  maxConnectionsPerAddress: 64,
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 64 * 1024,
};

/** Open connections and held bytes, then the connections refused or closed by the bounds, by reason. */
export interface StreamStats {
  open: number;
  /** Open connections of the source address that has the most. */
  maxFromOneAddress: number;
  /** Bytes of unfinished messages held for the open connections. */
  bufferedBytes: number;
  refusedTotal: number;
  refusedPerAddress: number;
  headerTimeout: number;
  headerTooLarge: number;
  bodyTooLarge: number;
  /** Closed by `sip-idle-timeout`. */
  idleClosed: number;
}

const WARN_INTERVAL_MS = 10_000;
const KEEPALIVE_MS = 30_000;

export async function openTransport(options: TransportOptions, sink: MessageSink): Promise<Transport> {
  return options.protocol === 'udp' ? openUdp(options, sink) : openStream(options, sink);
}

async function openUdp(options: TransportOptions, sink: MessageSink): Promise<Transport> {
  const socket = dgram.createSocket({ type: net.isIPv6(options.address) ? 'udp6' : 'udp4', lookup: literalFirstLookup });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port, options.address, () => { socket.off('error', reject); resolve(); });
  });
  socket.on('error', (e) => options.log.warn({ err: e.message }, 'SIP UDP socket error'));
  if (options.udpBufferBytes) sizeUdpBuffers(socket, options.udpBufferBytes, options.log);
  const bound = socket.address();
  const transport: Transport = {
    protocol: 'udp',
    local: { address: options.address, port: bound.port },
    send: (to, data) => new Promise((resolve) => {
      socket.send(data, to.port, to.address, (err) => {
        if (err) options.log.warn({ err: err.message, to }, 'SIP UDP send failed');
        resolve();
      });
    }),
    close: () => new Promise((resolve) => { try { socket.close(() => resolve()); } catch { resolve(); } }),
    connections: () => 0,
    connected: () => false,
    stats: noStreamStats,
  };
  socket.on('message', (msg, rinfo) => {
    if (msg.length <= 4 && msg.toString('latin1').trim() === '') return; // CRLF keep-alive
    sink(msg, { address: rinfo.address, port: rinfo.port }, transport);
  });
  return transport;
}

/**
 * dgram runs its lookup on every send, even to an IP literal (dns.lookup then answers on the next tick): an IP literal
 * (what core/sip/resolve hands the transports) is answered at once, ~1 µs less CPU per send and no tick.
 */
export function literalFirstLookup(host: string, family: dns.LookupOneOptions | number, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const literal = net.isIP(host);
  if (literal !== 0) callback(null, host, literal);
  else dns.lookup(host, typeof family === 'number' ? { family } : family, callback);
}

function key(h: HostPort): string {
  return `${h.address}|${h.port}`;
}

async function openStream(options: TransportOptions, sink: MessageSink): Promise<Transport> {
  const conns = new Map<string, net.Socket>();
  const isTls = options.protocol === 'tls';
  if (isTls && !options.tls) throw b2buaError('B2BUA_TLS_CREDENTIALS_MISSING', {});
  const limits: StreamLimits = { ...DEFAULT_STREAM_LIMITS };
  for (const [k, v] of Object.entries(options.limits ?? {})) if (typeof v === 'number' && (v > 0 || (k === 'idleTimeoutMs' && v === 0))) Object.assign(limits, { [k]: v });
  const stats = noStreamStats();
  const framers = new Set<StreamFramer>();
  const warn = rateLimitedWarn(options.log);
  let open = 0;
  const perAddress = new Map<string, number>();

  // Counted and refused on the raw TCP socket, before any read or TLS handshake.
  const accept = (raw: net.Socket): boolean => {
    const address = normalizeAddress(raw.remoteAddress ?? '');
    const fromAddress = perAddress.get(address) ?? 0;
    const reason = open >= limits.maxConnections ? 'refusedTotal'
      : fromAddress >= limits.maxConnectionsPerAddress ? 'refusedPerAddress' : undefined;
    if (reason) {
      stats[reason]++;
      raw.destroy();
      warn(reason, { address, open, fromAddress }, reason === 'refusedTotal'
        ? `SIP ${options.protocol.toUpperCase()}: max-connections (${limits.maxConnections}) reached, connection refused`
        : `SIP ${options.protocol.toUpperCase()}: max-connections-per-address (${limits.maxConnectionsPerAddress}) reached, connection refused`);
      return false;
    }
    track(raw, address);
    return true;
  };
  const track = (raw: net.Socket, address: string): void => {
    open++;
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    raw.once('close', () => {
      open--;
      const n = (perAddress.get(address) ?? 1) - 1;
      if (n > 0) perAddress.set(address, n); else perAddress.delete(address);
    });
  };

  const adopt = (socket: net.Socket, remote: HostPort): void => {
    const k = key(remote);
    conns.set(k, socket);
    // Node's socket timeout restarts on every byte read or written, CRLF keep-alives included.
    socket.setTimeout(limits.idleTimeoutMs, () => {
      stats.idleClosed++;
      options.log.debug({ remote, idleMs: limits.idleTimeoutMs }, 'SIP connection idle: closed');
      socket.destroy();
    });
    if (options.keepalive) socket.setKeepAlive(true, KEEPALIVE_MS);
    socket.on('error', (e) => options.log.debug({ err: e.message, remote }, 'SIP connection error'));
    const framer = new StreamFramer(limits);
    framers.add(framer);
    let headerTimer: NodeJS.Timeout | undefined;
    const stopHeaderTimer = (): void => { if (headerTimer) { clearTimeout(headerTimer); headerTimer = undefined; } };
    socket.on('close', () => { stopHeaderTimer(); framers.delete(framer); if (conns.get(k) === socket) conns.delete(k); });
    const close = (reason: FramerError | 'header-timeout'): void => {
      const counter = reason === 'header-timeout' ? 'headerTimeout' : reason === 'header-too-large' ? 'headerTooLarge' : 'bodyTooLarge';
      stats[counter]++;
      warn(counter, { remote, buffered: framer.buffered }, `SIP ${options.protocol.toUpperCase()}: ${reason === 'header-timeout'
        ? `headers not complete within ${limits.headerTimeoutMs} ms`
        : reason === 'header-too-large' ? `header section over ${limits.maxHeaderBytes} bytes` : `body over ${limits.maxBodyBytes} bytes`}, closing the connection`);
      stopHeaderTimer();
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      const out = framer.push(chunk);
      for (let i = 0; i < out.pings; i++) socket.write('\r\n');
      for (const m of out.messages) sink(m, remote, transport);
      if (out.error) { close(out.error); return; }
      // The clock runs from the first byte of a message to its complete headers (slowloris bound).
      if (out.messages.length > 0) stopHeaderTimer();
      if (framer.partial && !framer.headerComplete) {
        headerTimer ??= setTimeout(() => { headerTimer = undefined; if (framer.partial && !framer.headerComplete) close('header-timeout'); }, limits.headerTimeoutMs);
      } else stopHeaderTimer();
    });
  };

  const server = isTls
    ? tls.createServer({ cert: options.tls!.cert, key: options.tls!.key }, (s) => adopt(s, remoteOf(s)))
    : net.createServer();
  if (isTls) server.on('connection', accept);
  else server.on('connection', (s: net.Socket) => { if (accept(s)) adopt(s, remoteOf(s)); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.address, () => { server.off('error', reject); resolve(); });
  });
  server.on('error', (e: Error) => options.log.warn({ err: e.message }, 'SIP listener error'));
  const port = (server.address() as net.AddressInfo).port;

  const connect = (to: HostPort): Promise<net.Socket> => new Promise((resolve, reject) => {
    const s = isTls
      ? tls.connect({ host: to.address, port: to.port, rejectUnauthorized: false })
      : net.connect({ host: to.address, port: to.port });
    const onError = (e: Error): void => reject(e);
    s.once('error', onError);
    const onTimeout = (): void => { s.destroy(b2buaError('B2BUA_SIP_CONNECT_TIMEOUT', {})); };
    s.setTimeout(10_000);
    s.once('timeout', onTimeout);
    s.once(isTls ? 'secureConnect' : 'connect', () => {
      s.off('error', onError);
      s.off('timeout', onTimeout);
      track(s, normalizeAddress(to.address));
      adopt(s, to);
      resolve(s);
    });
  });

  const transport: Transport = {
    protocol: options.protocol,
    local: { address: options.address, port },
    async send(to, data) {
      try {
        const s = conns.get(key(to)) ?? (await connect(to));
        s.write(data);
      } catch (e) {
        options.log.warn({ err: errorReason(e), to }, `SIP ${options.protocol.toUpperCase()} send failed`);
        throw e;
      }
    },
    close: () => new Promise((resolve) => {
      for (const s of conns.values()) s.destroy();
      conns.clear();
      server.close(() => resolve());
    }),
    connections: () => conns.size,
    connected: (to) => conns.has(key(to)),
    stats: () => {
      let bufferedBytes = 0;
      for (const f of framers) bufferedBytes += f.buffered;
      return { ...stats, open, maxFromOneAddress: Math.max(0, ...perAddress.values()), bufferedBytes };
    },
  };
  return transport;
}

/** One warn line per reason per WARN_INTERVAL_MS, with the count of the lines left out. */
function rateLimitedWarn(log: Logger): (reason: string, fields: Record<string, unknown>, msg: string) => void {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (reason, fields, msg) => {
    const now = Date.now();
    const l = last.get(reason);
    if (l && now - l.at < WARN_INTERVAL_MS) { l.suppressed++; return; }
    log.warn({ ...fields, ...(l?.suppressed ? { suppressed: l.suppressed } : {}) }, msg);
    last.set(reason, { at: now, suppressed: 0 });
  };
}

function remoteOf(s: net.Socket): HostPort {
  return { address: normalizeAddress(s.remoteAddress ?? ''), port: s.remotePort ?? 0 };
}

/** `::ffff:127.0.0.1` → `127.0.0.1`. */
export function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

/**
 * SIP transports: UDP (one datagram = one message), TCP and TLS (stream framing by
 * Content-Length in bytes). Bind errors reject start-up instead of crashing the process
 * (npm `sip` leaves socket 'error' events unhandled), port 0 reports the port actually bound.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';
import { b2buaError, errorReason } from '../errors/index.js';
import type { Logger } from '../vocabulary/index.js';
import type { TransportProtocol } from './uri.js';

export interface HostPort {
  readonly address: string;
  readonly port: number;
}

export interface Transport {
  readonly protocol: TransportProtocol;
  readonly local: HostPort;
  /** Send bytes to a peer; stream transports reuse the peer's connection or open one. */
  send(to: HostPort, data: Buffer): Promise<void>;
  close(): Promise<void>;
  /** Open connections (stream transports), for counters. */
  connections(): number;
  /** A stream connection with this peer is open (always false for UDP). */
  connected(to: HostPort): boolean;
}

export type MessageSink = (data: Buffer, source: HostPort, transport: Transport) => void;

export interface TransportOptions {
  readonly protocol: TransportProtocol;
  readonly address: string;
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** `enable-keepalive`: TCP keep-alive probes on stream connections. */
  readonly keepalive?: boolean;
  readonly log: Logger;
}

const MAX_MESSAGE_BYTES = 256 * 1024;
const STREAM_IDLE_MS = 5 * 60_000;
const KEEPALIVE_MS = 30_000;

export async function openTransport(options: TransportOptions, sink: MessageSink): Promise<Transport> {
  return options.protocol === 'udp' ? openUdp(options, sink) : openStream(options, sink);
}

async function openUdp(options: TransportOptions, sink: MessageSink): Promise<Transport> {
  const socket = dgram.createSocket({ type: net.isIPv6(options.address) ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port, options.address, () => { socket.off('error', reject); resolve(); });
  });
  socket.on('error', (e) => options.log.warn({ err: e.message }, 'SIP UDP socket error'));
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
  };
  socket.on('message', (msg, rinfo) => {
    if (msg.length <= 4 && msg.toString('latin1').trim() === '') return; // CRLF keep-alive
    sink(msg, { address: rinfo.address, port: rinfo.port }, transport);
  });
  return transport;
}

function key(h: HostPort): string {
  return `${h.address}|${h.port}`;
}

async function openStream(options: TransportOptions, sink: MessageSink): Promise<Transport> {
  const conns = new Map<string, net.Socket>();
  const isTls = options.protocol === 'tls';
  if (isTls && !options.tls) throw b2buaError('B2BUA_TLS_CREDENTIALS_MISSING', {});

  const adopt = (socket: net.Socket, remote: HostPort): void => {
    const k = key(remote);
    conns.set(k, socket);
    socket.setTimeout(STREAM_IDLE_MS, () => socket.destroy());
    if (options.keepalive) socket.setKeepAlive(true, KEEPALIVE_MS);
    socket.on('error', (e) => options.log.debug({ err: e.message, remote }, 'SIP connection error'));
    socket.on('close', () => { if (conns.get(k) === socket) conns.delete(k); });
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        // RFC 5626 keep-alive ping: answer the double CRLF with a single CRLF.
        if (buf.length >= 4 && buf.subarray(0, 4).toString('latin1') === '\r\n\r\n') { socket.write('\r\n'); buf = buf.subarray(4); continue; }
        while (buf.length > 0 && (buf[0] === 0x0d || buf[0] === 0x0a)) buf = buf.subarray(1);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > MAX_MESSAGE_BYTES) { options.log.warn({ remote }, 'SIP stream: header section too large, closing'); socket.destroy(); }
          return;
        }
        const head = buf.subarray(0, end).toString('latin1');
        const m = /^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$/im.exec(head);
        const length = m ? Number(m[1]) : 0;
        if (length > MAX_MESSAGE_BYTES) { options.log.warn({ remote }, 'SIP stream: body too large, closing'); socket.destroy(); return; }
        if (buf.length < end + 4 + length) return;
        const message = buf.subarray(0, end + 4 + length);
        buf = buf.subarray(end + 4 + length);
        sink(Buffer.from(message), remote, transport);
      }
    });
  };

  const server = isTls
    ? tls.createServer({ cert: options.tls!.cert, key: options.tls!.key }, (s) => adopt(s, remoteOf(s)))
    : net.createServer((s) => adopt(s, remoteOf(s)));
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
  };
  return transport;
}

function remoteOf(s: net.Socket): HostPort {
  return { address: normalizeAddress(s.remoteAddress ?? ''), port: s.remotePort ?? 0 };
}

/** `::ffff:127.0.0.1` → `127.0.0.1`. */
export function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

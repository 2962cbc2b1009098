/**
 * Raw SIP peers for the attack tests: a UDP socket and a TCP connection (from a chosen source address) that send
 * hand-written requests and wait for the response with the same Call-ID, timing the round trip; RSS of a pid.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import { randomBytes } from 'node:crypto';

export interface RequestParts {
  readonly method: string;
  readonly target: string;
  readonly transport: 'UDP' | 'TCP';
  readonly local: { readonly address: string; readonly port: number };
  readonly headers?: readonly string[];
  readonly callId?: string;
}

export function request(p: RequestParts): { text: string; callId: string } {
  const callId = p.callId ?? `${randomBytes(8).toString('hex')}@${p.local.address}`;
  const text = [
    `${p.method} ${p.target} SIP/2.0`,
    `Via: SIP/2.0/${p.transport} ${p.local.address}:${p.local.port};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
    'Max-Forwards: 70',
    `From: <sip:attacker@${p.local.address}>;tag=${randomBytes(4).toString('hex')}`,
    `To: <${p.target}>`,
    `Call-ID: ${callId}`,
    `CSeq: 1 ${p.method}`,
    `Contact: <sip:attacker@${p.local.address}:${p.local.port}>`,
    ...(p.headers ?? []),
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
  return { text, callId };
}

/** A final response (not 1xx) whose Call-ID is `callId`, from accumulated stream text or a datagram. */
function finalFor(text: string, callId: string): string | undefined {
  for (const m of text.split(/(?=^SIP\/2\.0 )/m)) {
    if (/^SIP\/2\.0 [2-6]\d\d/.test(m) && m.includes(`Call-ID: ${callId}`)) return m;
  }
  return undefined;
}

export interface SipPeer {
  readonly local: { readonly address: string; readonly port: number };
  /** Sends `method` to the daemon and resolves with the final response and the round trip in ms. */
  ask(method: string, headers?: readonly string[], timeoutMs?: number): Promise<{ response: string; ms: number }>;
  /** Sends raw text to the daemon. */
  send(text: string): void;
  /** Every datagram / byte received so far. */
  readonly received: string[];
  close(): void;
}

export async function udpPeer(daemonPort: number, address = '127.0.0.1'): Promise<SipPeer> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, () => resolve()));
  const local = { address, port: socket.address().port };
  const received: string[] = [];
  const waiters = new Set<(msg: string) => void>();
  socket.on('message', (msg) => { const t = msg.toString('latin1'); received.push(t); for (const w of waiters) w(t); });
  return {
    local,
    received,
    ask: (method, headers = [], timeoutMs = 3000) => new Promise((resolve, reject) => {
      const { text, callId } = request({ method, target: `sip:127.0.0.1:${daemonPort}`, transport: 'UDP', local, headers });
      const started = process.hrtime.bigint();
      const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`no final response to ${method} over UDP within ${timeoutMs} ms`)); }, timeoutMs);
      const w = (msg: string): void => {
        const response = finalFor(msg, callId);
        if (!response) return;
        clearTimeout(timer);
        waiters.delete(w);
        resolve({ response, ms: Number(process.hrtime.bigint() - started) / 1e6 });
      };
      waiters.add(w);
      socket.send(text, daemonPort, '127.0.0.1');
    }),
    send: (text) => socket.send(text, daemonPort, '127.0.0.1'),
    close: () => { try { socket.close(); } catch { /* closed */ } },
  };
}

export async function tcpPeer(daemonPort: number, from = '127.0.0.1'): Promise<SipPeer & { readonly socket: net.Socket }> {
  const socket = net.connect({ host: '127.0.0.1', port: daemonPort, localAddress: from });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.on('error', () => undefined);
  const local = { address: from, port: socket.localPort ?? 0 };
  const received: string[] = [];
  let buffer = '';
  const waiters = new Set<() => void>();
  socket.on('data', (d: Buffer) => { const t = d.toString('latin1'); received.push(t); buffer += t; for (const w of waiters) w(); });
  return {
    socket,
    local,
    received,
    ask: (method, headers = [], timeoutMs = 3000) => new Promise((resolve, reject) => {
      const { text, callId } = request({ method, target: `sip:127.0.0.1:${daemonPort};transport=tcp`, transport: 'TCP', local, headers });
      const started = process.hrtime.bigint();
      const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`no final response to ${method} over TCP from ${from} within ${timeoutMs} ms`)); }, timeoutMs);
      const w = (): void => {
        const response = finalFor(buffer, callId);
        if (!response) return;
        clearTimeout(timer);
        waiters.delete(w);
        buffer = '';
        resolve({ response, ms: Number(process.hrtime.bigint() - started) / 1e6 });
      };
      waiters.add(w);
      socket.write(text);
    }),
    send: (text) => { socket.write(text); },
    close: () => socket.destroy(),
  };
}

/** Resident set size of a process in MB (/proc/<pid>/status VmRSS). */
export function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

export function percentile(samples: readonly number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/**
 * Sends fuzz cases (mutate.ts) to a running server over UDP (one datagram per case) and over TCP (one
 * connection per batch, the batch written whole or in random fragments). The peer side is just enough to
 * let the server's transactions end early: a non-2xx final response to an INVITE is ACKed, a request from
 * the server is answered 200. After every batch an OPTIONS from a clean socket must be answered within 1 s.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { fuzzCase, prng, type Peer } from './mutate.js';
import { header, headersNamed, parseSip, type SipMessage } from '../harness/sip-ua.js';

export interface FuzzTarget {
  readonly host: string;
  /** The server listens on UDP and TCP on this port. */
  readonly port: number;
  /** False once the server process has exited (a crash). */
  alive(): boolean;
}

export interface FuzzPlan {
  readonly seed: number;
  readonly udpCases: number;
  readonly tcpCases: number;
  /** Cases per batch (one OPTIONS check after each). */
  readonly batch?: number;
  /** Stop starting batches after this time (epoch ms). */
  readonly deadline?: number;
  /** Called after each batch (progress, RSS samples). */
  readonly onBatch?: (p: FuzzProgress) => void | Promise<void>;
}

export interface FuzzProgress {
  readonly udp: number;
  readonly tcp: number;
  readonly optionsFailures: number;
}

export interface OptionsFailure {
  readonly afterCase: number;
  readonly transport: 'UDP' | 'TCP';
  readonly reason: string;
}

export interface FuzzResult extends FuzzProgress {
  readonly failures: readonly OptionsFailure[];
  readonly crashed: boolean;
  readonly stoppedAtDeadline: boolean;
}

const token = (): string => randomBytes(6).toString('hex');

/** A response to `req` (Via, From, To, Call-ID, CSeq copied; a To tag added). */
export function responseTo(req: SipMessage, status: number, reason: string): Buffer {
  const to = header(req, 'to') ?? '';
  const lines = [
    `SIP/2.0 ${status} ${reason}`,
    ...headersNamed(req, 'via').map((v) => `Via: ${v}`),
    `From: ${header(req, 'from') ?? ''}`,
    `To: ${/;\s*tag=/i.test(to) ? to : `${to};tag=${token()}`}`,
    `Call-ID: ${header(req, 'call-id') ?? ''}`,
    `CSeq: ${header(req, 'cseq') ?? ''}`,
    'Content-Length: 0',
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
}

/** The ACK of a non-2xx final response to an INVITE (same branch, RFC 3261 17.1.1.3). */
function ackFor(res: SipMessage, requestUri: string): Buffer | undefined {
  const via = headersNamed(res, 'via')[0];
  const cseq = /^(\d+)\s+INVITE$/i.exec(header(res, 'cseq') ?? '');
  if (!via || !cseq) return undefined;
  const lines = [`ACK ${requestUri} SIP/2.0`, `Via: ${via}`, 'Max-Forwards: 70', `From: ${header(res, 'from') ?? ''}`, `To: ${header(res, 'to') ?? ''}`,
    `Call-ID: ${header(res, 'call-id') ?? ''}`, `CSeq: ${cseq[1]} ACK`, 'Content-Length: 0'];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
}

/** What the fuzzing peer sends back for a message from the server (or nothing). */
function reaction(m: SipMessage, requestUri: string): Buffer | undefined {
  if (m.method !== undefined) return m.method === 'ACK' ? undefined : responseTo(m, 200, 'OK');
  if (m.status !== undefined && m.status >= 300) return ackFor(m, requestUri);
  return undefined;
}

/** Splits a TCP byte stream into SIP messages by Content-Length (the server's own output is well formed). */
function streamSplitter(onMessage: (m: SipMessage) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      while (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) buf = buf.subarray(2); // keep-alive CRLFs
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      const m = parseSip(buf.subarray(0, end + 4 + length));
      buf = buf.subarray(end + 4 + length);
      if (m) onMessage(m);
    }
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One OPTIONS (same transaction retransmitted) from a fresh UDP socket; resolves with a failure reason, or undefined when a 2xx came within `timeoutMs`. */
export async function optionsProbe(target: FuzzTarget, timeoutMs = 1000): Promise<string | undefined> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const local = `127.0.0.1:${sock.address().port}`;
  const callId = `${token()}@probe`;
  const msg = [`OPTIONS sip:${target.host}:${target.port} SIP/2.0`, `Via: SIP/2.0/UDP ${local};rport;branch=z9hG4bK${token()}`, 'Max-Forwards: 70',
    `From: <sip:probe@${local}>;tag=${token()}`, `To: <sip:${target.host}:${target.port}>`, `Call-ID: ${callId}`, 'CSeq: 1 OPTIONS', 'Content-Length: 0'];
  const retransmits: NodeJS.Timeout[] = [];
  try {
    return await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(`no answer to OPTIONS within ${timeoutMs} ms`), timeoutMs);
      sock.on('message', (data) => {
        const m = parseSip(data);
        if (!m || m.status === undefined || header(m, 'call-id') !== callId || m.status < 200) return;
        clearTimeout(timer);
        resolve(m.status < 300 ? undefined : `OPTIONS answered ${m.firstLine}`);
      });
      // retransmitted as a UAC does over UDP (Timer E, here from 100 ms): a full socket buffer on loopback drops datagrams
      const bytes = Buffer.from(`${msg.join('\r\n')}\r\n\r\n`);
      for (const at of [0, 100, 300, 700]) retransmits.push(setTimeout(() => sock.send(bytes, target.port, target.host), at));
    });
  } finally {
    retransmits.forEach(clearTimeout);
    sock.close();
  }
}

async function udpBatch(sock: dgram.Socket, peer: Peer, target: FuzzTarget, seed: number, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const c = fuzzCase(seed, i, peer);
    const bytes = c.bytes.length > 65000 ? c.bytes.subarray(0, 65000) : c.bytes; // the largest UDP datagram
    await new Promise<void>((r) => sock.send(bytes, target.port, target.host, () => r()));
    if ((i - from) % 10 === 9) await sleep(1); // fewer drops in the server's socket buffer
  }
}

/** One connection for the batch; written whole or in random fragments; a new connection when the server closes one. */
async function tcpBatch(target: FuzzTarget, seed: number, from: number, count: number, requestUri: string): Promise<void> {
  const fragment = prng(seed ^ from)() < 0.5;
  const r = prng((seed * 31) ^ from);
  let next = from;
  for (let connections = 0; next < from + count && connections < 10; connections++) {
    const sock = net.connect(target.port, target.host);
    sock.setNoDelay(true);
    let closed = false;
    let lastData = Date.now();
    sock.on('error', () => { closed = true; });
    sock.on('close', () => { closed = true; });
    const split = streamSplitter((m) => {
      const out = reaction(m, requestUri);
      if (out && !closed) sock.write(out);
    });
    sock.on('data', (d) => { lastData = Date.now(); split(d); });
    const connected = await new Promise<boolean>((resolve) => { sock.once('connect', () => resolve(true)); sock.once('error', () => resolve(false)); });
    if (!connected) return;
    const peer: Peer = { local: `127.0.0.1:${sock.localPort}`, server: `${target.host}:${target.port}`, transport: 'TCP' };
    while (next < from + count && !closed) {
      const bytes = fuzzCase(seed, next++, peer).bytes;
      if (!fragment) { sock.write(bytes); continue; }
      for (let at = 0; at < bytes.length && !closed;) {
        const n = 1 + Math.floor(r() * 300);
        sock.write(bytes.subarray(at, at + n));
        at += n;
        if (r() < 0.3) await sleep(1);
      }
    }
    // the server's answers (and our ACKs to them) before closing: until 150 ms of silence, at most 2 s
    const started = Date.now();
    while (!closed && Date.now() - started < 2000 && Date.now() - lastData < 150) await sleep(25);
    sock.end();
    sock.destroySoon();
  }
}

/** Runs the plan: UDP and TCP batches interleaved in proportion, an OPTIONS probe after each batch. */
export async function runFuzz(target: FuzzTarget, plan: FuzzPlan): Promise<FuzzResult> {
  const batch = plan.batch ?? 50;
  const requestUri = `sip:callee@${target.host}:${target.port}`;
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  const udpPeer: Peer = { local: `127.0.0.1:${udp.address().port}`, server: `${target.host}:${target.port}`, transport: 'UDP' };
  udp.on('message', (data, rinfo) => {
    const m = parseSip(data);
    const out = m && reaction(m, requestUri);
    if (out) udp.send(out, rinfo.port, rinfo.address);
  });
  const failures: OptionsFailure[] = [];
  let udpSent = 0;
  let tcpSent = 0;
  let crashed = false;
  let stoppedAtDeadline = false;
  try {
    // TCP cases take indexes after the UDP ones, so (seed, index) names one case of the run
    while (udpSent < plan.udpCases || tcpSent < plan.tcpCases) {
      if (plan.deadline !== undefined && Date.now() > plan.deadline) { stoppedAtDeadline = true; break; }
      const udpShare = plan.udpCases === 0 ? 0 : udpSent / plan.udpCases;
      const tcpShare = plan.tcpCases === 0 ? 1 : tcpSent / plan.tcpCases;
      const useTcp = tcpSent < plan.tcpCases && (tcpShare < udpShare || udpSent >= plan.udpCases);
      let transport: 'UDP' | 'TCP';
      if (useTcp) {
        const n = Math.min(batch, plan.tcpCases - tcpSent);
        await tcpBatch(target, plan.seed, plan.udpCases + tcpSent, n, requestUri);
        tcpSent += n;
        transport = 'TCP';
      } else {
        const n = Math.min(batch, plan.udpCases - udpSent);
        await udpBatch(udp, udpPeer, target, plan.seed, udpSent, n);
        udpSent += n;
        transport = 'UDP';
      }
      if (!target.alive()) { crashed = true; break; }
      const reason = await optionsProbe(target);
      if (reason) failures.push({ afterCase: transport === 'UDP' ? udpSent - 1 : plan.udpCases + tcpSent - 1, transport, reason });
      await plan.onBatch?.({ udp: udpSent, tcp: tcpSent, optionsFailures: failures.length });
    }
  } finally {
    await sleep(500); // late answers to the last batch get their ACK
    udp.close();
  }
  return { udp: udpSent, tcp: tcpSent, optionsFailures: failures.length, failures, crashed: crashed || !target.alive(), stoppedAtDeadline };
}

/**
 * The far end of leg B (the server's outbound proxy): every INVITE is refused 486 at once, ACKs are
 * absorbed, any other request gets 200. Calls set up by lucky mutations thus end without timers.
 */
export async function openRefusingCallee(): Promise<{ port: number; invites(): number; close(): Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  let invites = 0;
  sock.on('message', (data, rinfo) => {
    const m = parseSip(data);
    if (!m?.method || m.method === 'ACK') return;
    if (m.method === 'INVITE') invites++;
    sock.send(m.method === 'INVITE' ? responseTo(m, 486, 'Busy Here') : responseTo(m, 200, 'OK'), rinfo.port, rinfo.address);
  });
  return { port: sock.address().port, invites: () => invites, close: () => new Promise<void>((r) => sock.close(() => r())) };
}

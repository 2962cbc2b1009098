/**
 * SIP message trace for troubleshooting: every message in and out, with direction, transport, peer and Call-ID, to the
 * log at debug level and, on demand (`b2bua-cli trace on [file]`), to a file bounded in size. Credentials never appear
 * in clear: every traced message goes through maskCredentials() first.
 */
import fs from 'node:fs';
import type { Logger } from '../vocabulary/index.js';

export type TraceDirection = 'in' | 'out';

/** A file trace stops by itself past this size (a log line says so). */
export const DEFAULT_TRACE_MAX_BYTES = 50 * 1024 * 1024;
const MASK = '***';

/**
 * The message with its credentials masked: in Authorization / Proxy-Authorization the digest `response` and `cnonce`
 * values (whatever the nonce) and a Basic credential; in any header a `password`-like parameter. The body is kept.
 */
export function maskCredentials(message: string): string {
  const end = message.search(/\r?\n\r?\n/);
  const head = end < 0 ? message : message.slice(0, end);
  const rest = end < 0 ? '' : message.slice(end);
  const masked = head.split(/(\r?\n)/).map((line) => {
    let out = line.replace(/([\w-]*pass(?:word|wd)?[\w-]*\s*[=:]\s*)("[^"]*"|[^\s;,&>]+)/gi, (_m, name: string) => `${name}${MASK}`);
    if (/^\s*(proxy-)?authorization\s*:/i.test(line)) {
      out = out.replace(/(\b(?:response|cnonce)\s*=\s*)("[^"]*"|[^\s,]+)/gi, (_m, name: string, value: string) => `${name}${value.startsWith('"') ? `"${MASK}"` : MASK}`)
        .replace(/^(\s*(?:proxy-)?authorization\s*:\s*basic\s+)\S+/i, `$1${MASK}`);
    }
    return out;
  }).join('');
  return masked + rest;
}

/** The Call-ID of a raw message (full or compact form), or '' when it has none. */
export function callIdOf(message: string): string {
  return /^(?:call-id|i)[ \t]*:[ \t]*(.*?)[ \t]*$/im.exec(message.slice(0, message.search(/\r?\n\r?\n|$/)))?.[1] ?? '';
}

export interface TracePeer {
  readonly protocol: string;
  readonly address: string;
  readonly port: number;
}

/** The text written to a trace file for one message: a header line, then the (masked) message. */
export function traceEntry(direction: TraceDirection, peer: TracePeer, message: string, at = new Date()): string {
  const arrow = direction === 'in' ? 'received from' : 'sent to';
  const body = maskCredentials(message).replace(/\r\n/g, '\n');
  return `=== ${at.toISOString()} ${arrow} ${peer.protocol}:${peer.address}:${peer.port} Call-ID: ${callIdOf(message) || '-'} (${Buffer.byteLength(message)} bytes)\n${body}${body.endsWith('\n') ? '' : '\n'}\n`;
}

export interface TraceStatus {
  readonly file: string | undefined;
  readonly bytes: number;
  readonly maxBytes: number;
  readonly messages: number;
}

/** The trace of one SIP stack. record() is called by the stack for every message; cheap when nothing is traced. */
export class SipTrace {
  private stream: fs.WriteStream | undefined;
  private file: string | undefined;
  private bytes = 0;
  private maxBytes = DEFAULT_TRACE_MAX_BYTES;
  private messages = 0;

  constructor(private readonly log: Logger) {}

  private debugEnabled(): boolean {
    const l = this.log as unknown as { isLevelEnabled?: (level: string) => boolean };
    return l.isLevelEnabled?.('debug') ?? false;
  }

  record(direction: TraceDirection, peer: TracePeer, data: Buffer): void {
    const toFile = this.stream !== undefined;
    const toLog = this.debugEnabled();
    if (!toFile && !toLog) return;
    const text = data.toString('utf8');
    if (text.trim() === '') return; // CRLF keep-alives
    if (toLog) {
      this.log.debug({ direction, protocol: peer.protocol, peer: `${peer.address}:${peer.port}`, callId: callIdOf(text), message: maskCredentials(text) }, `SIP message ${direction}`);
    }
    if (this.stream) {
      const entry = traceEntry(direction, peer, text);
      const size = Buffer.byteLength(entry);
      if (this.bytes + size > this.maxBytes) {
        this.log.warn({ file: this.file, bytes: this.bytes, maxBytes: this.maxBytes }, 'SIP trace file reached its maximum size: trace stopped (b2bua-cli trace on to start again)');
        void this.stop();
        return;
      }
      this.bytes += size;
      this.messages++;
      this.stream.write(entry);
    }
  }

  /** Starts tracing to `file` (appended, created readable by its owner only); a trace in progress is stopped first. */
  async start(file: string, maxBytes = DEFAULT_TRACE_MAX_BYTES): Promise<void> {
    await this.stop();
    const stream = fs.createWriteStream(file, { flags: 'a', mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => { stream.off('error', reject); resolve(); });
      stream.once('error', reject);
    });
    stream.on('error', (e) => {
      this.log.error({ file, err: e.message }, 'SIP trace file cannot be written: trace stopped');
      this.stream = undefined;
    });
    this.stream = stream;
    this.file = file;
    this.bytes = 0;
    this.messages = 0;
    this.maxBytes = maxBytes;
    this.log.info({ file, maxBytes }, 'SIP trace started');
  }

  /** Stops the file trace; resolves once everything is written. */
  async stop(): Promise<void> {
    const stream = this.stream;
    if (!stream) return;
    this.stream = undefined;
    await new Promise<void>((resolve) => stream.end(() => resolve()));
    this.log.info({ file: this.file, bytes: this.bytes, messages: this.messages }, 'SIP trace stopped');
  }

  status(): TraceStatus {
    return { file: this.stream ? this.file : undefined, bytes: this.bytes, maxBytes: this.maxBytes, messages: this.messages };
  }
}

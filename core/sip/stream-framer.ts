/**
 * SIP stream framing (RFC 3261 §18.3): splits a TCP/TLS byte stream into messages by the
 * blank line and Content-Length. The header section is scanned incrementally (each byte once,
 * chunks kept as a list and joined once per message), so a slow or hostile peer costs linear
 * time and at most `maxHeaderBytes + maxBodyBytes` of memory per connection.
 */

export interface FramerLimits {
  /** Bytes of one message's start line and headers, blank line included. */
  readonly maxHeaderBytes: number;
  /** Bytes of one message's body (its Content-Length). */
  readonly maxBodyBytes: number;
}

export type FramerError = 'header-too-large' | 'body-too-large';

export interface FramerOutput {
  readonly messages: Buffer[];
  /** RFC 5626 §4.4.1 double-CRLF pings received; each is answered with one CRLF. */
  readonly pings: number;
  readonly error?: FramerError;
}

const CR = 0x0d;
const LF = 0x0a;
const CRLFCRLF = [CR, LF, CR, LF];
const CONTENT_LENGTH = /^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$/im;

export class StreamFramer {
  private parts: Buffer[] = [];
  private headerBytes = 0;
  /** Bytes of CRLFCRLF matched so far at the end of the scanned header bytes. */
  private matched = 0;
  /** Between messages: the CR/LF bytes seen, to detect a double-CRLF ping. */
  private idleCrlf = 0;
  /** Once the header is complete: the body bytes still awaited; -1 while in the header. */
  private bodyLeft = -1;
  private failed: FramerError | undefined;

  constructor(private readonly limits: FramerLimits) {}

  /** A message has started and is not complete yet (slowloris clock running). */
  get partial(): boolean {
    return this.headerBytes > 0;
  }

  /** The current message's headers are complete (its body is awaited). */
  get headerComplete(): boolean {
    return this.bodyLeft >= 0;
  }

  /** Bytes held for the unfinished message. */
  get buffered(): number {
    let n = 0;
    for (const p of this.parts) n += p.length;
    return n;
  }

  push(chunk: Buffer): FramerOutput {
    const messages: Buffer[] = [];
    let pings = 0;
    if (this.failed) return { messages, pings, error: this.failed };
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft >= 0) {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        if (take > 0) this.parts.push(chunk.subarray(i, i + take));
        i += take;
        this.bodyLeft -= take;
        if (this.bodyLeft === 0) messages.push(this.finish());
        continue;
      }
      if (this.headerBytes === 0) {
        const b = chunk[i]!;
        if (b === CR || b === LF) {
          // Between messages CR/LF bytes are keep-alives: CRLFCRLF is a ping, a lone CRLF a pong.
          this.idleCrlf = b === CRLFCRLF[this.idleCrlf % 4] ? this.idleCrlf + 1 : (b === CR ? 1 : 0);
          if (this.idleCrlf === 4) { pings++; this.idleCrlf = 0; }
          i++;
          continue;
        }
        this.idleCrlf = 0;
      }
      const start = i;
      let done = false;
      while (i < chunk.length) {
        const b = chunk[i++]!;
        this.matched = b === CRLFCRLF[this.matched] ? this.matched + 1 : (b === CR ? 1 : 0);
        if (this.matched === 4) { done = true; break; }
      }
      this.headerBytes += i - start;
      this.parts.push(chunk.subarray(start, i));
      if (this.headerBytes > this.limits.maxHeaderBytes) return this.fail(messages, pings, 'header-too-large');
      if (!done) break;
      const header = this.join();
      this.parts = [header];
      const m = CONTENT_LENGTH.exec(header.toString('latin1'));
      const length = m ? Number(m[1]) : 0;
      if (length > this.limits.maxBodyBytes) return this.fail(messages, pings, 'body-too-large');
      this.bodyLeft = length;
      if (length === 0) messages.push(this.finish());
    }
    return { messages, pings };
  }

  private fail(messages: Buffer[], pings: number, error: FramerError): FramerOutput {
    this.failed = error;
    this.parts = [];
    return { messages, pings, error };
  }

  private join(): Buffer {
    return this.parts.length === 1 ? Buffer.from(this.parts[0]!) : Buffer.concat(this.parts);
  }

  private finish(): Buffer {
    const message = this.join();
    this.parts = [];
    this.headerBytes = 0;
    this.matched = 0;
    this.bodyLeft = -1;
    return message;
  }
}

/**
 * Stream framing (core/sip/stream-framer.ts): messages split by the blank line and Content-Length whatever the
 * segmentation (1-byte segments included), double-CRLF pings, caps on header and body bytes, and linear cost.
 */
import assert from 'node:assert/strict';
import { StreamFramer } from '../../../core/sip/stream-framer.js';

const limits = { maxHeaderBytes: 16 * 1024, maxBodyBytes: 64 * 1024 };

function message(body: string, extra = ''): string {
  return `OPTIONS sip:b@y SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1\r\nCall-ID: c\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

function feed(framer: StreamFramer, data: Buffer, segment: number): { messages: string[]; pings: number; error?: string } {
  const messages: string[] = [];
  let pings = 0;
  for (let i = 0; i < data.length; i += segment) {
    const out = framer.push(data.subarray(i, i + segment));
    messages.push(...out.messages.map((m) => m.toString('latin1')));
    pings += out.pings;
    if (out.error) return { messages, pings, error: out.error };
  }
  return { messages, pings };
}

describe('SIP stream framing', () => {
  const a = message('v=0\r\n\r\nx'); // a body holding a blank line must not split the message
  const b = message('', 'Subject: two\r\n');
  const stream = Buffer.from(`\r\n\r\n${a}\r\n${b}\r\n\r\n${a}`, 'latin1');

  for (const segment of [1, 2, 3, 7, 64, stream.length]) {
    it(`frames messages, pongs and pings identically with ${segment}-byte segments`, () => {
      const out = feed(new StreamFramer(limits), stream, segment);
      assert.deepEqual(out.messages, [a, b, a]);
      assert.equal(out.pings, 2);
      assert.equal(out.error, undefined);
    });
  }

  it('reports a partial message until its body is complete, then holds nothing', () => {
    const f = new StreamFramer(limits);
    const data = Buffer.from(a, 'latin1');
    assert.equal(f.push(data.subarray(0, 10)).messages.length, 0);
    assert.equal(f.partial, true);
    assert.equal(f.headerComplete, false);
    const headerEnd = data.indexOf('\r\n\r\n') + 4;
    f.push(data.subarray(10, headerEnd));
    assert.equal(f.headerComplete, true);
    assert.deepEqual(f.push(data.subarray(headerEnd)).messages.map(String), [a]);
    assert.equal(f.partial, false);
    assert.equal(f.buffered, 0);
  });

  it('fails with header-too-large once the header section passes the cap, holding at most the cap', () => {
    const f = new StreamFramer({ maxHeaderBytes: 1000, maxBodyBytes: 1000 });
    let error: string | undefined;
    let sent = 0;
    for (let i = 0; i < 100 && !error; i++) {
      assert.ok(f.buffered <= 1000);
      error = f.push(Buffer.from(`X-Filler-${i}: ${'a'.repeat(40)}\r\n`)).error;
      sent++;
    }
    assert.equal(error, 'header-too-large');
    assert.ok(sent < 30, `failed after ${sent} lines`);
    assert.equal(f.buffered, 0);
    assert.equal(f.push(Buffer.from(a)).error, 'header-too-large', 'a failed stream stays failed');
  });

  it('fails with body-too-large as soon as the header announces a Content-Length over the cap', () => {
    const f = new StreamFramer({ maxHeaderBytes: 1000, maxBodyBytes: 100 });
    const out = f.push(Buffer.from('MESSAGE sip:b@y SIP/2.0\r\nl: 101\r\n\r\n'));
    assert.equal(out.error, 'body-too-large');
    assert.equal(new StreamFramer({ maxHeaderBytes: 1000, maxBodyBytes: 100 }).push(Buffer.from(`MESSAGE sip:b@y SIP/2.0\r\nl: 100\r\n\r\n${'x'.repeat(100)}`)).messages.length, 1);
  });

  it('frames a 16 KB header sent in 1-byte segments in bounded time (no per-segment rebuild)', () => {
    const header = Buffer.from(`OPTIONS sip:b@y SIP/2.0\r\n${'X-A: b\r\n'.repeat(2000)}\r\n`);
    const time = (segment: number): number => {
      const t0 = process.hrtime.bigint();
      for (let r = 0; r < 5; r++) assert.equal(feed(new StreamFramer(limits), header, segment).messages.length, 1);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    time(1); // warm-up
    const one = time(1);
    // Quadratic rebuild (concat of the whole buffer per segment) would copy ~128 MB for 5 × 16 KB of 1-byte segments.
    assert.ok(one < 500, `1-byte segments took ${one.toFixed(1)} ms`);
  });
});

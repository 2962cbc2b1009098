/**
 * Resource bounds of the TCP transport over real loopback sockets: connections beyond max-connections and
 * max-connections-per-address are closed unread while other sources still connect; a connection whose headers
 * do not complete within the header timeout, or pass the header cap, is closed; complete messages still arrive.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { silentLogger } from '../../../core/log/index.js';
import { openTransport, type StreamLimits, type Transport } from '../../../core/sip/transport.js';

const OPTIONS = 'OPTIONS sip:b@y SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n';

describe('SIP TCP transport bounds', function () {
  this.timeout(10_000);
  let transport: Transport | undefined;
  const sockets: net.Socket[] = [];
  let received: string[] = [];

  async function listen(limits: Partial<StreamLimits>): Promise<Transport> {
    received = [];
    transport = await openTransport({ protocol: 'tcp', address: '127.0.0.1', port: 0, log: silentLogger(), limits }, (data) => { received.push(data.toString('latin1')); });
    return transport;
  }

  /** Connects and reports whether the server closed it within `ms` (a refused connection closes at once). */
  function connect(t: Transport, from = '127.0.0.1'): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: t.local.port, localAddress: from });
      sockets.push(s);
      s.on('error', () => undefined);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  function closedWithin(s: net.Socket, ms: number): Promise<boolean> {
    if (s.destroyed || s.readableEnded) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      s.once('close', () => { clearTimeout(timer); resolve(true); });
      s.resume();
    });
  }

  async function until(cond: () => boolean, ms = 2000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await transport?.close();
    transport = undefined;
  });

  it('refuses connections beyond max-connections-per-address while another source address still connects', async () => {
    const t = await listen({ maxConnectionsPerAddress: 3 });
    const kept = [await connect(t), await connect(t), await connect(t)];
    const extra = await connect(t);
    assert.equal(await closedWithin(extra, 1000), true, 'the 4th connection from 127.0.0.1 is closed');
    for (const s of kept) assert.equal(await closedWithin(s, 50), false);
    const other = await connect(t, '127.0.0.2');
    other.write(OPTIONS);
    await until(() => received.length === 1);
    assert.deepEqual(received, [OPTIONS], 'a connection from 127.0.0.2 is served');
    assert.equal(t.stats().refusedPerAddress, 1);
    kept[0]!.destroy();
    await until(() => t.connections() === 3);
    const again = await connect(t);
    assert.equal(await closedWithin(again, 200), false, 'a freed slot is usable again');
  });

  it('refuses connections beyond max-connections whatever their source', async () => {
    const t = await listen({ maxConnections: 2 });
    const kept = [await connect(t), await connect(t, '127.0.0.2')];
    assert.equal(await closedWithin(await connect(t, '127.0.0.3'), 1000), true);
    for (const s of kept) assert.equal(await closedWithin(s, 50), false);
    assert.equal(t.stats().refusedTotal, 1);
  });

  it('closes a connection whose headers do not complete within the header timeout, even if it keeps sending', async () => {
    const t = await listen({ headerTimeoutMs: 300 });
    const slow = await connect(t);
    const idle = await connect(t);
    idle.write('\r\n\r\n'); // keep-alive only: no message started, not subject to the header timeout
    const drip = setInterval(() => { if (!slow.destroyed) slow.write('X'); }, 50);
    slow.write('OPTIONS sip:b@y SIP/2.0\r\n');
    try {
      assert.equal(await closedWithin(slow, 2000), true);
    } finally { clearInterval(drip); }
    assert.equal(t.stats().headerTimeout, 1);
    assert.equal(await closedWithin(idle, 100), false);
    idle.write(OPTIONS);
    await until(() => received.length === 1);
    assert.deepEqual(received, [OPTIONS]);
  });

  it('closes a connection whose header section passes the cap', async () => {
    const t = await listen({ maxHeaderBytes: 4096 });
    const big = await connect(t);
    big.write(`OPTIONS sip:b@y SIP/2.0\r\nX-Big: ${'a'.repeat(8192)}`);
    assert.equal(await closedWithin(big, 2000), true);
    assert.equal(t.stats().headerTooLarge, 1);
    assert.deepEqual(received, []);
  });

  it('closes a connection silent in both directions for the idle timeout; CRLF keep-alives and messages keep one open', async () => {
    const t = await listen({ idleTimeoutMs: 400 });
    const silent = await connect(t);
    const pinging = await connect(t);
    const ping = setInterval(() => { if (!pinging.destroyed) pinging.write('\r\n\r\n'); }, 150);
    try {
      const started = Date.now();
      assert.equal(await closedWithin(silent, 2000), true, 'the silent connection is closed');
      assert.ok(Date.now() - started >= 300, `closed after ${Date.now() - started} ms, not before the idle timeout`);
      assert.equal(await closedWithin(pinging, 800), false, 'double-CRLF pings are traffic');
    } finally { clearInterval(ping); }
    pinging.write(OPTIONS);
    await until(() => received.length === 1);
    assert.deepEqual(received, [OPTIONS]);
    assert.equal(t.stats().idleClosed, 1);
    assert.equal(await closedWithin(pinging, 2000), true, 'once the pings stop it is closed as well');
    assert.equal(t.stats().idleClosed, 2);
  });

  it('stats(): open connections, the largest count from one address, bytes held for unfinished messages', async () => {
    const t = await listen({ maxConnectionsPerAddress: 2 });
    const a = [await connect(t), await connect(t)];
    await connect(t, '127.0.0.2');
    assert.equal(await closedWithin(await connect(t), 1000), true);
    a[0]!.write('OPTIONS sip:b@y SIP/2.0\r\nVia: x'); // 31 bytes, headers unfinished
    await until(() => t.stats().bufferedBytes === 31);
    assert.deepEqual({ ...t.stats() }, {
      open: 3, maxFromOneAddress: 2, bufferedBytes: 31, refusedTotal: 0, refusedPerAddress: 1, headerTimeout: 0, headerTooLarge: 0, bodyTooLarge: 0, idleClosed: 0,
    });
    for (const s of sockets) s.destroy();
    await until(() => t.stats().open === 0);
    assert.deepEqual([t.stats().open, t.stats().maxFromOneAddress, t.stats().bufferedBytes], [0, 0, 0]);
  });

  it('sip-idle-timeout 0: an idle connection stays open', async () => {
    const t = await listen({ idleTimeoutMs: 0, headerTimeoutMs: 10_000 });
    const s = await connect(t);
    assert.equal(await closedWithin(s, 600), false);
    assert.equal(t.stats().idleClosed, 0);
  });
});

/**
 * b2bingress as an ICE-lite agent (core/native/b2bstun.c): STUN Binding requests sent over loopback UDP by this test
 * to `udpsrc(socket) ! b2bingress(socket)`, the answers read back and checked with Node's crypto (HMAC-SHA1) and a
 * CRC-32 written here: XOR-MAPPED-ADDRESS is the sender, MESSAGE-INTEGRITY verifies with our ice-pwd, FINGERPRINT
 * verifies; wrong credentials or an unknown source get no answer; USE-CANDIDATE makes the sender the only accepted source.
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { NATIVE_PLUGIN_DIR } from '../../../core/media/gst/index.js';

type GstModule = typeof import('../../../core/media/worker/gst.js');
type Pipeline = import('../../../core/media/worker/gst.js').Pipeline;
type UdpSocket = import('../../../core/media/worker/gst.js').UdpSocket;
let gst: GstModule;

const MAGIC = 0x2112a442;
const LOCAL = { ufrag: 'b2bU', pwd: 'b2bPasswordOf22charsXX' };
const REMOTE = { ufrag: 'peer', pwd: 'peerPasswordOf22chars0' };

const CRC_TABLE = Array.from({ length: 256 }, (_v, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function attr(type: number, value: Buffer): Buffer {
  const pad = (4 - (value.length % 4)) % 4;
  const h = Buffer.alloc(4);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value, Buffer.alloc(pad)]);
}

/** Appends MESSAGE-INTEGRITY (key `pwd`) and FINGERPRINT to a message made of a header and attributes. */
function sign(header: Buffer, attrs: Buffer, pwd: string, o: { breakFingerprint?: boolean } = {}): Buffer {
  const withMi = (len: number) => { const h = Buffer.from(header); h.writeUInt16BE(len, 2); return h; };
  const beforeMi = Buffer.concat([withMi(attrs.length + 24), attrs]);
  const mi = attr(0x0008, createHmac('sha1', pwd).update(beforeMi).digest());
  const beforeFp = Buffer.concat([withMi(attrs.length + 24 + 8), attrs, mi]);
  const fp = Buffer.alloc(4);
  fp.writeUInt32BE(((crc32(beforeFp) ^ 0x5354554e) ^ (o.breakFingerprint ? 1 : 0)) >>> 0);
  return Buffer.concat([beforeFp, attr(0x8028, fp)]);
}

function bindingRequest(o: { username?: string; pwd?: string; useCandidate?: boolean; breakFingerprint?: boolean } = {}): { packet: Buffer; tid: Buffer } {
  const tid = randomBytes(12);
  const header = Buffer.alloc(20);
  header.writeUInt16BE(0x0001, 0);
  header.writeUInt32BE(MAGIC, 4);
  tid.copy(header, 8);
  const prio = Buffer.alloc(4);
  prio.writeUInt32BE(1853824767);
  const controlling = randomBytes(8);
  const attrs = Buffer.concat([
    attr(0x0006, Buffer.from(o.username ?? `${LOCAL.ufrag}:${REMOTE.ufrag}`)),
    attr(0x0024, prio),
    attr(0x802a, controlling),
    ...(o.useCandidate ? [attr(0x0025, Buffer.alloc(0))] : []),
  ]);
  return { packet: sign(header, attrs, o.pwd ?? LOCAL.pwd, o), tid };
}

interface Parsed { type: number; tid: Buffer; attrs: Map<number, { value: Buffer; at: number }> }
function parse(b: Buffer): Parsed {
  assert.ok(b.length >= 20 && b.readUInt32BE(4) === MAGIC, 'a STUN message');
  assert.equal(b.readUInt16BE(2), b.length - 20, 'STUN length field');
  const attrs = new Map<number, { value: Buffer; at: number }>();
  for (let at = 20; at < b.length;) {
    const type = b.readUInt16BE(at);
    const len = b.readUInt16BE(at + 2);
    attrs.set(type, { value: b.subarray(at + 4, at + 4 + len), at });
    at += 4 + len + ((4 - (len % 4)) % 4);
  }
  return { type: b.readUInt16BE(0), tid: b.subarray(8, 20), attrs };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('b2bingress ICE-lite: STUN Binding requests answered in C (core/native/b2bstun.c)', function () {
  this.timeout(15_000);
  const open: { p: Pipeline; socket: UdpSocket }[] = [];
  const peers: Socket[] = [];

  before(async () => {
    process.env['GST_PLUGIN_PATH'] = [NATIVE_PLUGIN_DIR, process.env['GST_PLUGIN_PATH']].filter(Boolean).join(':');
    gst = await import('../../../core/media/worker/gst.js');
    gst.initGst();
  });

  afterEach(() => {
    for (const s of open.splice(0)) {
      s.p.stop();
      s.socket.close();
    }
    for (const s of peers.splice(0)) s.close();
  });

  /** Our side: the ingress with ICE credentials (remote-address 127.0.0.1 unless told otherwise), RTP to a b2bsrtp counter. */
  function ours(props = `ice-ufrag=${LOCAL.ufrag} ice-pwd=${LOCAL.pwd} ice-remote-ufrag=${REMOTE.ufrag}`, remote = '127.0.0.1') {
    const socket = gst.UdpSocket.bind('127.0.0.1', 0);
    const p = gst.Pipeline.parse(`udpsrc name=usrc close-socket=false ! b2bingress name=in remote-address=${remote} ${props} in.src ! b2bsrtp name=rtp ! fakesink sync=false async=false`);
    p.element('usrc').set('socket', socket);
    p.element('in').set('socket', socket);
    p.play();
    open.push({ p, socket });
    return { p, socket, ingress: p.element('in') };
  }

  async function peer(): Promise<{ s: Socket; port: number; received: Buffer[]; send: (b: Buffer, to: number) => Promise<void> }> {
    const s = createSocket('udp4');
    peers.push(s);
    const received: Buffer[] = [];
    s.on('message', (m) => received.push(m));
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const send = (b: Buffer, to: number) => new Promise<void>((r, j) => s.send(b, to, '127.0.0.1', (e) => (e ? j(e) : r())));
    return { s, port: s.address().port, received, send };
  }

  async function waitFor(what: string, cond: () => boolean, ms = 3000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(10);
    }
  }

  const rtp = (): Buffer => { const b = randomBytes(172); b[0] = 0x80; b[1] = 0; return b; };

  it('a valid Binding request gets a success response: same transaction, XOR-MAPPED-ADDRESS = the sender, MESSAGE-INTEGRITY and FINGERPRINT verify', async () => {
    const o = ours();
    const pr = await peer();
    await sleep(100);
    const { packet, tid } = bindingRequest();
    await pr.send(packet, o.socket.port);
    await waitFor('the answer', () => pr.received.length === 1);
    const res = pr.received[0]!;
    const m = parse(res);
    assert.equal(m.type, 0x0101, 'Binding success response');
    assert.deepEqual(m.tid, tid, 'transaction id echoed');
    const xma = m.attrs.get(0x0020)!.value;
    assert.equal(xma[1], 1, 'IPv4 family');
    assert.equal(xma.readUInt16BE(2) ^ (MAGIC >>> 16), pr.port, 'X-Port decodes to the sender port');
    const ip = [...xma.subarray(4, 8)].map((b, i) => b ^ [0x21, 0x12, 0xa4, 0x42][i]!).join('.');
    assert.equal(ip, '127.0.0.1', 'X-Address decodes to the sender');
    const mi = m.attrs.get(0x0008)!;
    const signed = Buffer.from(res.subarray(0, mi.at));
    signed.writeUInt16BE(mi.at + 24 - 20, 2);
    assert.deepEqual(mi.value, createHmac('sha1', LOCAL.pwd).update(signed).digest(), 'MESSAGE-INTEGRITY with our ice-pwd');
    const fp = m.attrs.get(0x8028)!;
    assert.equal(fp.at, res.length - 8, 'FINGERPRINT is last');
    assert.equal(fp.value.readUInt32BE(0), (crc32(res.subarray(0, fp.at)) ^ 0x5354554e) >>> 0, 'FINGERPRINT');
    assert.equal(m.attrs.has(0x0006), false, 'no USERNAME in a response');
    assert.equal(o.ingress.number('stun-answered'), 1);
    assert.equal(o.ingress.number('stun-refused'), 0);
    assert.equal(o.ingress.string('nominated-address'), '', 'no USE-CANDIDATE: nothing nominated');
    assert.equal(o.ingress.number('other'), 0, 'STUN is not "other" with ICE on');
  });

  for (const [what, req] of [
    ['a wrong password (MESSAGE-INTEGRITY)', { pwd: REMOTE.pwd }],
    ['a wrong ufrag (ours)', { username: `nope:${REMOTE.ufrag}` }],
    ['a wrong ufrag (theirs)', { username: `${LOCAL.ufrag}:other` }],
    ['no peer ufrag at all', { username: LOCAL.ufrag }],
    ['a broken FINGERPRINT', { breakFingerprint: true }],
  ] as const) {
    it(`${what}: no answer, counted as refused, nothing nominated`, async () => {
      const o = ours();
      const pr = await peer();
      await sleep(100);
      await pr.send(bindingRequest({ ...req, useCandidate: true }).packet, o.socket.port);
      await waitFor('the refusal', () => o.ingress.number('stun-refused') === 1);
      await sleep(100);
      assert.equal(pr.received.length, 0, 'no answer');
      assert.equal(o.ingress.number('stun-answered'), 0);
      assert.equal(o.ingress.string('nominated-address'), '');
    });
  }

  it('a request from an address neither remote-address nor in ice-addresses is dropped silently (no RTP Bleed through ICE)', async () => {
    const o = ours(`ice-ufrag=${LOCAL.ufrag} ice-pwd=${LOCAL.pwd} ice-addresses=192.0.2.1`, '127.0.0.2');
    const pr = await peer();
    await sleep(100);
    await pr.send(bindingRequest({ useCandidate: true }).packet, o.socket.port);
    await waitFor('the refusal', () => o.ingress.number('stun-refused') === 1);
    assert.equal(pr.received.length, 0);
    o.ingress.set('ice-addresses', '192.0.2.1 127.0.0.1');
    await pr.send(bindingRequest({ useCandidate: true }).packet, o.socket.port);
    await waitFor('the answer once 127.0.0.1 is a candidate address', () => pr.received.length === 1);
    assert.equal(o.ingress.string('nominated-address'), '127.0.0.1');
  });

  it('USE-CANDIDATE nominates the sender: only its address:port is accepted from then on; new credentials start over', async () => {
    const o = ours();
    const checker = await peer();
    const other = await peer();
    await sleep(100);
    await other.send(rtp(), o.socket.port); // latches other's port (plain latching before ICE)
    await waitFor('first RTP', () => o.ingress.number('packets-in') === 1);
    await checker.send(bindingRequest({ useCandidate: true }).packet, o.socket.port);
    await waitFor('the answer', () => checker.received.length === 1);
    assert.equal(o.ingress.string('nominated-address'), '127.0.0.1');
    assert.equal(o.ingress.number('nominated-port'), checker.port);
    assert.equal(o.ingress.number('stun-nominations'), 1);
    await other.send(rtp(), o.socket.port);
    await checker.send(rtp(), o.socket.port);
    await waitFor('the nominated sender\'s RTP', () => o.ingress.number('packets-in') === 2);
    await waitFor('the other port rejected', () => o.ingress.number('rejected') === 1);
    o.ingress.set('ice-ufrag', 'restart');
    assert.equal(o.ingress.string('nominated-address'), '', 'new local credentials: the nomination is gone');
  });

  it('a Binding indication (keepalive) is not answered and not counted as refused', async () => {
    const o = ours();
    const pr = await peer();
    await sleep(100);
    const ind = bindingRequest().packet;
    ind.writeUInt16BE(0x0011, 0);
    await pr.send(ind, o.socket.port);
    await waitFor('other', () => o.ingress.number('other') === 1);
    assert.equal(pr.received.length, 0);
    assert.equal(o.ingress.number('stun-refused'), 0);
  });

  it('without ice-ufrag / ice-pwd a STUN request is "other", as before ICE (ICE off on the leg)', async () => {
    const o = ours('');
    const pr = await peer();
    await sleep(100);
    await pr.send(bindingRequest().packet, o.socket.port);
    await waitFor('other', () => o.ingress.number('other') === 1);
    assert.equal(pr.received.length, 0);
    assert.equal(o.ingress.number('stun-answered') + o.ingress.number('stun-refused'), 0);
  });
});

/**
 * b2bzrtp (core/native/b2bzrtp.c, libbzrtp) end to end over loopback UDP: two endpoints, each the way the
 * worker drives one leg — a "holder" instance outside any pipeline (Gst.ElementFactory.make) plus the
 * instance in a pipeline `udpsrc ! b2bzrtp ! udpsink` on one socket, both attached to the same
 * connection-id — complete the RFC 6189 handshake. Properties are polled, as the worker does.
 * The keys are then checked by running RTP through b2bsrtp protect (A's srtp-send) and unprotect
 * (B's srtp-recv).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import gi from 'node-gtk';
import { NATIVE_PLUGIN_DIR } from '../../../core/media/gst/index.js';
import { sleep, waitUntil } from '../../harness/wait.js';

type Gst = typeof import('../../../core/media/worker/gst.js');
type UdpSocket = import('../../../core/media/worker/gst.js').UdpSocket;

/** A b2bzrtp element as node-gtk shows it (properties in camelCase; guint64 counters as bigint). */
interface Zrtp {
  connectionId: string;
  ssrc: number;
  active: boolean;
  peerHelloHash: string;
  cachePath: string;
  readonly helloHash: string;
  readonly state: string;
  readonly error: string;
  readonly sas: string;
  readonly sasType: string;
  readonly cipher: string;
  readonly authTag: string;
  readonly keyAgreement: string;
  readonly keyAgreements: string;
  readonly hash: string;
  readonly cacheHit: boolean;
  readonly cacheMismatch: boolean;
  readonly srtpSend: string;
  readonly srtpRecv: string;
  readonly packetsIn: bigint;
  readonly packetsOut: bigint;
}
interface GstPipeline {
  getByName(name: string): Record<string, unknown>;
  setState(state: number): void;
}
/** The part of node-gtk's Gst namespace used here (ElementFactory.make for the holders). */
interface GstNs {
  ElementFactory: { make(factory: string, name: null): Zrtp };
  parseLaunch(description: string): GstPipeline;
  State: { NULL: number; PLAYING: number };
}

let gst: Gst;
let G: GstNs;

const HASH = /^1\.10 [0-9a-f]{64}$/;

/** One side of a call: a holder plus one pipeline per stream (the worker's shape). */
class Side {
  readonly holder: Zrtp;
  readonly streams: { ssrc: number; socket: UdpSocket; pipeline?: GstPipeline; el?: Zrtp }[] = [];

  constructor(readonly connectionId: string, props: Record<string, string | boolean> = {}, nStreams = 1) {
    this.holder = G.ElementFactory.make('b2bzrtp', null);
    Object.assign(this.holder, props);
    this.holder.connectionId = connectionId;
    for (let i = 0; i < nStreams; i++) this.streams.push({ ssrc: randomInt(1, 2 ** 32 - 1), socket: gst.UdpSocket.bind('127.0.0.1', 0) });
    this.holder.ssrc = this.streams[0]!.ssrc; // the main (audio) channel first
  }

  /** What the worker reads from the holder for stream i's SDP (before any pipeline exists). */
  helloHash(i = 0): string {
    this.holder.ssrc = this.streams[i]!.ssrc;
    const h = String(this.holder.helloHash);
    this.holder.ssrc = this.streams[0]!.ssrc;
    return h;
  }

  /** Builds and plays stream i's pipeline towards `peer`'s socket of the same stream. */
  play(i: number, peer: Side, peerHelloHash?: string): Zrtp {
    const s = this.streams[i]!;
    const p = G.parseLaunch(
      `udpsrc name=src close-socket=false ! b2bzrtp name=z ! udpsink name=sink sync=false async=false close-socket=false host=127.0.0.1 port=${peer.streams[i]!.socket.port}`,
    );
    p.getByName('src').socket = s.socket.handle;
    p.getByName('sink').socket = s.socket.handle;
    const el = p.getByName('z') as unknown as Zrtp;
    el.connectionId = this.connectionId;
    el.ssrc = s.ssrc;
    if (peerHelloHash !== undefined) el.peerHelloHash = peerHelloHash;
    p.setState(G.State.PLAYING);
    s.pipeline = p;
    s.el = el;
    return el;
  }

  /** Ends the call: pipelines down, every instance detached (the shared state goes with the last one). */
  close(): void {
    for (const s of this.streams) {
      s.pipeline?.setState(G.State.NULL);
      if (s.el) s.el.connectionId = '';
      s.socket.close();
    }
    this.holder.connectionId = '';
  }
}

const n = (v: unknown) => Number(v ?? 0);
const uniqueId = (what: string) => `${what}-${randomBytes(4).toString('hex')}`;

function waitState(el: Zrtp, state: string, ms = 5000): Promise<true> {
  return waitUntil(`b2bzrtp state "${state}" (is "${el.state}", error "${el.error}")`, () => (el.state === state ? true : undefined), ms, 10);
}

/** RTP protected with `send` and unprotected with `recv` by b2bsrtp: how many packets authenticated. */
async function srtpRoundTrip(send: string, recv: string): Promise<number> {
  const p = gst.Pipeline.parse(
    `audiotestsrc num-buffers=10 samplesperbuffer=160 ! mulawenc ! rtppcmupay ! b2bsrtp srtp-params="${send}" ! b2bsrtp name=dec mode=unprotect srtp-params="${recv}" ! fakesink`,
  );
  p.play();
  await waitUntil('EOS', () => (p.popEnd() ? true : undefined), 5000, 10);
  const good = p.element('dec').number('packets');
  p.stop();
  return good;
}

describe('b2bzrtp: ZRTP between two endpoints over loopback UDP (libbzrtp)', function () {
  this.timeout(30_000);
  const sides: Side[] = [];
  const side = (...args: ConstructorParameters<typeof Side>) => {
    const s = new Side(...args);
    sides.push(s);
    return s;
  };
  let dir: string;

  before(async () => {
    process.env['GST_PLUGIN_PATH'] = [NATIVE_PLUGIN_DIR, process.env['GST_PLUGIN_PATH']].filter(Boolean).join(':');
    gst = await import('../../../core/media/worker/gst.js');
    gst.initGst();
    G = gi.require('Gst', '1.0');
    dir = mkdtempSync(path.join(tmpdir(), 'b2bzrtp-'));
  });
  afterEach(() => {
    for (const s of sides.splice(0)) s.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A call: hashes from the holders, pipelines up, `active` set on the holders (shared state), both secured. */
  async function call(a: Side, b: Side, o: { stream?: number; hashForB?: string } = {}) {
    const i = o.stream ?? 0;
    const ha = a.helloHash(i);
    const hb = b.helloHash(i);
    const ea = a.play(i, b, hb);
    const eb = b.play(i, a, o.hashForB ?? ha);
    if (i === 0) {
      a.holder.active = true;
      b.holder.active = true;
    } else {
      ea.active = true;
      eb.active = true;
    }
    return { ea, eb, ha, hb };
  }

  it('completes the handshake: both secured, same SAS and algorithms, A sends with what B receives with', async () => {
    const a = side(uniqueId('a'));
    const b = side(uniqueId('b'));
    const ha = a.helloHash();
    assert.match(ha, HASH, 'hello-hash from the holder before any pipeline exists');
    assert.match(b.helloHash(), HASH);
    assert.notEqual(ha, b.helloHash());
    assert.equal(a.holder.state, 'new');

    // Pipelines playing but not `active`: nothing may be sent.
    const ea = a.play(0, b, b.helloHash());
    const eb = b.play(0, a, ha);
    await sleep(250);
    assert.equal(n(ea.packetsOut) + n(eb.packetsOut), 0, 'no ZRTP packet before active');
    assert.equal(ea.helloHash, ha, 'the pipeline instance shares the holder state');

    const t0 = Date.now();
    a.holder.active = true;
    b.holder.active = true;
    await waitState(ea, 'secured');
    await waitState(eb, 'secured');
    const ms = Date.now() - t0;
    for (const el of [ea, eb, a.holder, b.holder]) assert.equal(el.state, 'secured');
    assert.match(String(ea.sas), /^[a-z0-9]{4}$/, `B32 SAS (${ea.sas})`);
    assert.equal(ea.sas, eb.sas);
    assert.equal(ea.sasType, 'B32');
    assert.equal(ea.keyAgreement, 'X255');
    assert.equal(eb.keyAgreement, 'X255');
    assert.equal(ea.cipher, eb.cipher);
    assert.equal(ea.authTag, eb.authTag);
    assert.equal(ea.hash, eb.hash);
    assert.equal(`${ea.cipher}/${ea.authTag}`, 'AES1/HS80');
    assert.equal(ea.error, '');
    assert.equal(ea.cacheHit, false, 'no cache');

    const suite = /^AES_CM_128_HMAC_SHA1_80 [A-Za-z0-9+/]{40}$/; // 16-byte key + 14-byte salt
    for (const k of [ea.srtpSend, ea.srtpRecv, eb.srtpSend, eb.srtpRecv]) assert.match(String(k), suite);
    assert.equal(ea.srtpSend, eb.srtpRecv);
    assert.equal(eb.srtpSend, ea.srtpRecv);
    assert.notEqual(ea.srtpSend, ea.srtpRecv, 'one key per direction');
    assert.equal(a.holder.srtpSend, ea.srtpSend, 'the holder reads the same shared state');
    assert.ok(n(ea.packetsIn) >= 3 && n(ea.packetsOut) >= 3, `packets in ${ea.packetsIn} out ${ea.packetsOut}`);
    assert.ok(ms < 3000, `secured in ${ms} ms`);

    assert.equal(await srtpRoundTrip(ea.srtpSend, eb.srtpRecv), 10, 'b2bsrtp: A protects, B unprotects');
    assert.equal(await srtpRoundTrip(eb.srtpSend, ea.srtpRecv), 10, 'b2bsrtp: B protects, A unprotects');
    assert.equal(await srtpRoundTrip(ea.srtpSend, ea.srtpRecv), 0, 'and the wrong key does not authenticate');

    // A pipeline rebuilt (re-INVITE): a new instance on the same connection-id carries on secured.
    a.streams[0]!.pipeline!.setState(G.State.NULL);
    ea.connectionId = '';
    const again = a.play(0, b);
    assert.equal(again.state, 'secured');
    assert.equal(again.srtpSend, eb.srtpRecv);
  });

  it('fails on a peer Hello that does not match the SDP a=zrtp-hash, and gives no keys', async () => {
    const a = side(uniqueId('a'));
    const b = side(uniqueId('b'));
    const { ea, eb } = await call(a, b, { hashForB: `1.10 ${randomBytes(32).toString('hex')}` });
    await waitState(eb, 'failed');
    assert.match(String(eb.error), /a=zrtp-hash/);
    assert.equal(b.holder.state, 'failed');
    await sleep(300);
    assert.notEqual(ea.state, 'secured');
    for (const el of [ea, eb]) {
      assert.equal(el.srtpSend, '');
      assert.equal(el.srtpRecv, '');
      assert.equal(el.sas, '');
    }
  });

  it('with a ZID cache per side: the next call between the same caches is a cache hit, a stale peer cache a mismatch', async () => {
    const cache = (who: string) => path.join(dir, `${who}.sqlite`);
    const props = (self: string, peer: string, file: string) => ({ cachePath: file, selfUri: `sip:${self}@example.org`, peerUri: `sip:${peer}@example.org` });
    const results: { hit: [boolean, boolean]; mismatch: [boolean, boolean] }[] = [];
    // Call 4 uses bob's cache as it was after call 1 (same ZID, secret two calls old): RFC 6189 4.3.2 mismatch.
    for (const [k, bCache] of [cache('bob'), cache('bob'), cache('bob'), cache('bob-old')].entries()) {
      const a = side(uniqueId('a'), props('alice', 'bob', cache('alice')));
      const b = side(uniqueId('b'), props('bob', 'alice', bCache));
      const { ea, eb } = await call(a, b);
      await waitState(ea, 'secured');
      await waitState(eb, 'secured');
      assert.equal(ea.sas, eb.sas);
      assert.equal(ea.srtpSend, eb.srtpRecv);
      assert.equal(ea.cachePath, cache('alice'));
      results.push({ hit: [ea.cacheHit, eb.cacheHit], mismatch: [ea.cacheMismatch, eb.cacheMismatch] });
      for (const s of sides.splice(0)) s.close(); // the last session of a path closes its sqlite connection
      if (k === 0) copyFileSync(cache('bob'), cache('bob-old'));
    }
    const hits = results.map((r) => r.hit);
    assert.deepEqual(hits, [[false, false], [true, true], [true, true], [false, false]], JSON.stringify(results));
    assert.deepEqual(results.map((r) => r.mismatch), [[false, false], [false, false], [false, false], [true, true]], JSON.stringify(results));
  });

  it('negotiates DH3k when both offer only it (key-agreements), and AES3/HS32 gives the AES-256 _32 suite', async () => {
    const only = { keyAgreements: 'DH3k', ciphers: 'AES3', authTags: 'HS32' };
    const a = side(uniqueId('a'), only);
    const b = side(uniqueId('b'), only);
    assert.equal(a.holder.keyAgreements, 'DH3k');
    const { ea, eb } = await call(a, b);
    await waitState(ea, 'secured');
    await waitState(eb, 'secured');
    assert.equal(ea.keyAgreement, 'DH3k');
    assert.equal(eb.keyAgreement, 'DH3k');
    assert.equal(ea.sas, eb.sas);
    assert.match(String(ea.srtpSend), /^AES_256_CM_HMAC_SHA1_32 [A-Za-z0-9+/]{62}==$/); // 32-byte key + 14-byte salt
    assert.equal(ea.srtpSend, eb.srtpRecv);
    assert.equal(eb.srtpSend, ea.srtpRecv);
    assert.equal(await srtpRoundTrip(ea.srtpSend, eb.srtpRecv), 10);
  });

  it('a second stream (video) of the same connection secures in multistream mode once the first is secured', async () => {
    const a = side(uniqueId('a'), {}, 2);
    const b = side(uniqueId('b'), {}, 2);
    assert.notEqual(a.helloHash(0), a.helloHash(1), 'one Hello (hash) per stream');
    // Video's pipelines and `active` first: it must wait for audio.
    const video = await call(a, b, { stream: 1 });
    await sleep(200);
    assert.equal(video.ea.state, 'new', 'not started before the main stream is secured');
    const audio = await call(a, b);
    await waitState(audio.ea, 'secured');
    await waitState(video.ea, 'secured');
    await waitState(video.eb, 'secured');
    assert.equal(audio.ea.keyAgreement, 'X255');
    assert.equal(video.ea.keyAgreement, 'Mult');
    assert.equal(video.eb.keyAgreement, 'Mult');
    assert.equal(video.ea.sas, audio.ea.sas, 'the SAS is the connection\'s');
    assert.equal(video.ea.srtpSend, video.eb.srtpRecv);
    assert.equal(video.eb.srtpSend, video.ea.srtpRecv);
    assert.notEqual(video.ea.srtpSend, audio.ea.srtpSend, 'own keys per stream');
    assert.equal(await srtpRoundTrip(video.eb.srtpSend, video.ea.srtpRecv), 10);
  });

  it('survives connections ended mid-handshake (timer callbacks in flight), then still secures a call', async () => {
    for (let k = 0; k < 12; k++) {
      const a = side(uniqueId('a'));
      const b = side(uniqueId('b'));
      await call(a, b);
      await sleep(k * 3);
      a.close();
      b.close();
      sides.length = 0;
    }
    const { ea, eb } = await call(side(uniqueId('a')), side(uniqueId('b')));
    await waitState(ea, 'secured');
    await waitState(eb, 'secured');
    assert.equal(ea.sas, eb.sas);
  });
});

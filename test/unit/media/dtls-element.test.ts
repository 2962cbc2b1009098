/**
 * b2bdtls (core/native/b2bdtls.c) and b2bingress's dtls_src / zrtp_src pads in real GStreamer
 * pipelines over loopback UDP, two pipelines per test in this process:
 *   udpsrc(socket) ! b2bingress in.dtls_src ! b2bdtls ! funnel ! udpsink(same socket, to the other one)
 * Certificates come from the openssl command line; fingerprints are checked against Node's X509Certificate.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import gi from 'node-gtk';
import { NATIVE_PLUGIN_DIR } from '../../../core/media/gst/index.js';

type GstModule = typeof import('../../../core/media/worker/gst.js');
type Pipeline = import('../../../core/media/worker/gst.js').Pipeline;
type Element = import('../../../core/media/worker/gst.js').Element;
type UdpSocket = import('../../../core/media/worker/gst.js').UdpSocket;
let gst: GstModule;

/** The bits of node-gtk's Gst this test uses directly: a holder instance outside any pipeline, as the worker keeps one. */
type GObj = Record<string, unknown>;
interface GstNs {
  ElementFactory: { make(factory: string, name: string | null): GObj; find(name: string): unknown };
}

function makePem(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'b2bdtls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=test',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    return readFileSync(path.join(dir, 'cert.pem'), 'utf8') + readFileSync(path.join(dir, 'key.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SDP a=fingerprint value of a PEM's certificate, as Node computes it. */
const fingerprint = (pem: string) => `sha-256 ${new X509Certificate(pem).fingerprint256}`;

const SINK = 'fakesink sync=false async=false';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

interface Side {
  p: Pipeline;
  socket: UdpSocket;
  dtls: Element;
  ingress: Element;
}

describe('b2bdtls: DTLS-SRTP handshake element (core/native, real pipelines over loopback)', function () {
  this.timeout(20_000);
  let pemA: string;
  let pemB: string;
  let Gst: GstNs;
  const open: Side[] = [];
  const holders: GObj[] = [];

  before(async () => {
    process.env['GST_PLUGIN_PATH'] = [NATIVE_PLUGIN_DIR, process.env['GST_PLUGIN_PATH']].filter(Boolean).join(':');
    gst = await import('../../../core/media/worker/gst.js');
    gst.initGst();
    Gst = gi.require('Gst', '1.0') as GstNs;
    pemA = makePem();
    pemB = makePem();
  });

  afterEach(() => {
    for (const s of open.splice(0)) {
      s.p.stop();
      s.socket.close();
    }
    for (const h of holders.splice(0)) h.connectionId = '';
  });

  const connections = () => Number(Gst.ElementFactory.make('b2bdtls', null).connections);

  function socket(): UdpSocket {
    return gst.UdpSocket.bind('127.0.0.1', 0);
  }

  /**
   * One endpoint: its socket receives through b2bingress (accepting 127.0.0.1 unless told otherwise)
   * into b2bdtls, whose records go out of the same socket to `peerPort`.
   */
  function side(own: UdpSocket, peerPort: number, dtlsProps: string, opts: { acceptFrom?: string } = {}): Side {
    const accept = opts.acceptFrom ?? '127.0.0.1';
    const p = gst.Pipeline.parse(
      `udpsrc name=usrc close-socket=false ! b2bingress name=in ${accept ? `remote-address=${accept}` : ''} ` +
      `in.dtls_src ! b2bdtls name=dtls ${dtlsProps} ! funnel name=out ! udpsink name=usink sync=false async=false close-socket=false host=127.0.0.1 port=${peerPort}`,
    );
    p.element('usrc').set('socket', own);
    p.element('usink').set('socket', own);
    const s = { p, socket: own, dtls: p.element('dtls'), ingress: p.element('in') };
    open.push(s);
    return s;
  }

  function pair(o: { clientProps?: string; serverProps?: string; serverAcceptFrom?: string; id?: string } = {}) {
    const id = o.id ?? randomBytes(4).toString('hex');
    const sa = socket();
    const sb = socket();
    const client = side(sa, sb.port, `connection-id=c-${id} is-client=true ${o.clientProps ?? ''}`);
    const server = side(sb, sa.port, `connection-id=s-${id} is-client=false ${o.serverProps ?? ''}`, { acceptFrom: o.serverAcceptFrom });
    return { client, server, id };
  }

  /** pem and remote-fingerprint set from here (a description cannot carry a multi-line PEM). */
  function configure(s: Side, pem: string, remote: string | undefined, active: boolean): void {
    s.dtls.set('pem', pem);
    if (remote !== undefined) s.dtls.set('remote-fingerprint', remote);
    if (active) s.dtls.set('active', true);
  }

  const settled = (s: Side) => ['connected', 'failed'].includes(s.dtls.string('state'));

  it('b2bingress sends DTLS and ZRTP packets of an accepted source to dtls_src / zrtp_src, and counts them apart from other', async () => {
    const sock = socket();
    const p = gst.Pipeline.parse(
      'udpsrc name=usrc close-socket=false ! b2bingress name=in remote-address=127.0.0.1 ' +
      `in.dtls_src ! b2bsrtp name=dtls ! ${SINK}  in.zrtp_src ! b2bsrtp name=zrtp ! ${SINK}  in.src ! b2bsrtp name=rtp ! ${SINK}`,
    );
    p.element('usrc').set('socket', sock);
    open.push({ p, socket: sock, dtls: p.element('dtls'), ingress: p.element('in') });
    p.play();
    const tx = createSocket('udp4');
    const send = (b: Buffer) => new Promise<void>((r, j) => tx.send(b, sock.port, '127.0.0.1', (e) => (e ? j(e) : r())));
    const zrtp = Buffer.alloc(28);
    zrtp[0] = 0x10;
    zrtp.writeUInt32BE(0x5a525450, 4);
    const notZrtp = Buffer.from(zrtp);
    notZrtp.writeUInt32BE(0x5a525451, 4);
    const rtp = Buffer.alloc(20);
    rtp[0] = 0x80;
    try {
      await sleep(100);
      for (const first of [20, 22, 23, 63]) await send(Buffer.concat([Buffer.from([first]), randomBytes(40)]));
      await send(zrtp);
      await send(zrtp);
      await send(notZrtp);                           // first byte 0x10 without the magic cookie: other
      await send(Buffer.from([0x00, 0x01, 0, 0]));   // STUN-ish: other
      await send(Buffer.from([64, 0, 0, 0]));        // 64: not DTLS (TURN channel range): other
      await send(rtp);
      const ing = p.element('in');
      const total = () => ['dtls-packets-in', 'zrtp-packets-in', 'other', 'packets-in', 'rejected'].map((k) => `${k}=${ing.number(k)}`).join(' ');
      await waitFor('ingress counters', () => ing.number('dtls-packets-in') + ing.number('zrtp-packets-in') + ing.number('other') + ing.number('packets-in') >= 10).catch((e) => { throw new Error(`${e.message}: ${total()}`); });
      assert.equal(ing.number('dtls-packets-in'), 4);
      assert.equal(ing.number('zrtp-packets-in'), 2);
      assert.equal(ing.number('other'), 3);
      assert.equal(ing.number('packets-in'), 1);
      await waitFor('packets through the pads', () => p.element('dtls').number('packets') === 4 && p.element('zrtp').number('packets') === 2);
      assert.equal(p.element('rtp').number('packets'), 1);
    } finally {
      tx.close();
    }
  });

  it('b2bingress applies the source-address rule to DTLS (a stranger is rejected, not forwarded)', async () => {
    const sock = socket();
    const p = gst.Pipeline.parse(`udpsrc name=usrc close-socket=false ! b2bingress name=in remote-address=127.0.0.2 in.dtls_src ! b2bsrtp name=dtls ! ${SINK}`);
    p.element('usrc').set('socket', sock);
    open.push({ p, socket: sock, dtls: p.element('dtls'), ingress: p.element('in') });
    p.play();
    const tx = createSocket('udp4');
    try {
      await sleep(100);
      await new Promise<void>((r, j) => tx.send(Buffer.from([22, 254, 253, 0, 0]), sock.port, '127.0.0.1', (e) => (e ? j(e) : r())));
      const ing = p.element('in');
      await waitFor('rejected', () => ing.number('rejected') === 1);
      assert.equal(ing.number('dtls-packets-in'), 0);
      assert.equal(p.element('dtls').number('packets'), 0);
    } finally {
      tx.close();
    }
  });

  it('completes a handshake: crossed keys equal, AES_CM_128_HMAC_SHA1_80, peer fingerprints as Node computes them', async () => {
    const { client, server } = pair();
    configure(server, pemB, fingerprint(pemA), true);
    configure(client, pemA, fingerprint(pemB), true);
    assert.equal(client.dtls.string('state'), 'handshaking', 'the client started when active');
    assert.equal(server.dtls.string('state'), 'new', 'the server waits for a ClientHello');
    server.p.play();
    client.p.play();
    await waitFor('both connected', () => settled(client) && settled(server));
    assert.equal(client.dtls.string('error'), '');
    assert.equal(server.dtls.string('error'), '');
    assert.equal(client.dtls.string('state'), 'connected');
    assert.equal(server.dtls.string('state'), 'connected');
    const send = client.dtls.string('srtp-send');
    assert.match(send, /^AES_CM_128_HMAC_SHA1_80 [A-Za-z0-9+/]{40}$/, '16-byte key + 14-byte salt');
    assert.equal(Buffer.from(send.split(' ')[1]!, 'base64').length, 30);
    assert.equal(send, server.dtls.string('srtp-recv'));
    assert.equal(client.dtls.string('srtp-recv'), server.dtls.string('srtp-send'));
    assert.notEqual(client.dtls.string('srtp-send'), client.dtls.string('srtp-recv'));
    assert.equal(client.dtls.string('profile'), 'AES_CM_128_HMAC_SHA1_80');
    assert.equal(server.dtls.string('profile'), 'AES_CM_128_HMAC_SHA1_80');
    assert.equal(client.dtls.string('peer-fingerprint'), fingerprint(pemB));
    assert.equal(server.dtls.string('peer-fingerprint'), fingerprint(pemA));
    assert.ok(client.dtls.number('records-out') >= 2 && client.dtls.number('records-in') >= 2);
    assert.equal(client.ingress.number('dtls-packets-in'), client.dtls.number('records-in'));
  });

  it('the keys work in b2bsrtp: RTP protected with the client\'s srtp-send is unprotected with the server\'s srtp-recv', async () => {
    const { client, server } = pair();
    configure(server, pemB, fingerprint(pemA), true);
    configure(client, pemA, fingerprint(pemB), true);
    server.p.play();
    client.p.play();
    await waitFor('both connected', () => settled(client) && settled(server));
    const media = gst.Pipeline.parse(
      `audiotestsrc num-buffers=10 samplesperbuffer=160 ! mulawenc ! rtppcmupay ! b2bsrtp name=enc srtp-params="${client.dtls.string('srtp-send')}" ` +
      `! b2bsrtp name=dec mode=unprotect srtp-params="${server.dtls.string('srtp-recv')}" ! fakesink`,
    );
    media.play();
    try {
      await waitFor('EOS', () => media.popEnd() === 'eos');
      assert.equal(media.element('dec').number('packets'), 10);
      assert.equal(media.element('dec').number('auth-failures'), 0);
    } finally {
      media.stop();
    }
  });

  it('accepts remote-fingerprint after the handshake, in another case: keys only once it is verified', async () => {
    const { client, server } = pair();
    configure(server, pemB, fingerprint(pemA).toLowerCase().replace('sha-256', 'SHA-256'), true);
    configure(client, pemA, undefined, true);
    server.p.play();
    client.p.play();
    await waitFor('server connected', () => settled(server));
    assert.equal(server.dtls.string('state'), 'connected');
    await waitFor('client has the peer certificate', () => client.dtls.string('peer-fingerprint') !== '');
    await sleep(100);
    assert.equal(client.dtls.string('state'), 'handshaking', 'no fingerprint to check yet');
    assert.equal(client.dtls.string('srtp-send'), '');
    assert.equal(client.dtls.string('peer-fingerprint'), fingerprint(pemB));
    client.dtls.set('remote-fingerprint', fingerprint(pemB));
    assert.equal(client.dtls.string('state'), 'connected');
    assert.equal(client.dtls.string('srtp-send'), server.dtls.string('srtp-recv'));
  });

  it('a wrong remote-fingerprint fails the handshake, naming both fingerprints, and never exposes keys', async () => {
    const wrong = `sha-256 ${new X509Certificate(pemA).fingerprint256}`; // the client's own, not the server's
    const { client, server } = pair();
    configure(server, pemB, fingerprint(pemA), true);
    configure(client, pemA, wrong, true);
    server.p.play();
    client.p.play();
    await waitFor('client failed', () => settled(client));
    assert.equal(client.dtls.string('state'), 'failed');
    const err = client.dtls.string('error');
    assert.ok(err.includes(fingerprint(pemB)), `error names the peer's fingerprint: ${err}`);
    assert.ok(err.includes(wrong), `error names the SDP fingerprint: ${err}`);
    assert.equal(client.dtls.string('srtp-send'), '');
    assert.equal(client.dtls.string('srtp-recv'), '');
    // The client aborted with an alert: the server fails too, and has no keys either.
    await waitFor('server failed', () => settled(server));
    assert.equal(server.dtls.string('state'), 'failed');
    assert.equal(server.dtls.string('srtp-send'), '');
  });

  it('a wrong remote-fingerprint that arrives after the handshake fails it too', async () => {
    const { client, server } = pair();
    configure(server, pemB, undefined, true);
    configure(client, pemA, fingerprint(pemB), true);
    server.p.play();
    client.p.play();
    await waitFor('client connected', () => settled(client));
    assert.equal(client.dtls.string('state'), 'connected');
    await waitFor('server has the certificate', () => server.dtls.string('peer-fingerprint') !== '');
    assert.equal(server.dtls.string('srtp-send'), '');
    const wrong = 'sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33';
    server.dtls.set('remote-fingerprint', wrong);
    assert.equal(server.dtls.string('state'), 'failed');
    assert.equal(server.dtls.string('srtp-send'), '');
    assert.equal(server.dtls.string('srtp-recv'), '');
    const sha1 = `sha-1 ${new X509Certificate(pemA).fingerprint}`;
    assert.equal(server.dtls.string('peer-fingerprint'), sha1, 'peer-fingerprint in the SDP\'s hash');
    assert.ok(server.dtls.string('error').includes(sha1) && server.dtls.string('error').includes(wrong), server.dtls.string('error'));
  });

  it('shares one association between instances with one connection-id (holder, pipeline rebuild), gone once all say ""', async () => {
    const before = connections();
    const id = randomBytes(4).toString('hex');
    // The worker's holder: created outside any pipeline, configured before the pipeline exists.
    const holder = Gst.ElementFactory.make('b2bdtls', null);
    holders.push(holder);
    holder.connectionId = `c-${id}`;
    holder.pem = pemA;
    holder.isClient = true;
    holder.remoteFingerprint = fingerprint(pemB);
    holder.active = true;
    assert.equal(String(holder.state), 'handshaking');
    assert.equal(connections(), before + 1);
    // The pipeline instance carries only connection-id: the ClientHello waited for it to be PLAYING.
    const sa = socket();
    const sb = socket();
    const client = side(sa, sb.port, `connection-id=c-${id}`);
    const server = side(sb, sa.port, `connection-id=s-${id}`);
    configure(server, pemB, fingerprint(pemA), true);
    assert.equal(client.dtls.string('state'), 'handshaking', 'the pipeline instance reads the holder\'s state');
    server.p.play();
    client.p.play();
    await waitFor('connected', () => settled(client) && settled(server));
    assert.equal(String(holder.state), 'connected');
    assert.equal(String(holder.srtpSend), client.dtls.string('srtp-send'));
    assert.equal(String(holder.srtpSend), server.dtls.string('srtp-recv'));
    assert.equal(Number(holder.recordsIn), client.dtls.number('records-in'), 'counters are shared');
    assert.equal(connections(), before + 2);
    // Pipeline rebuild: the old client pipeline goes, a new one attaches to the same association.
    const keys = client.dtls.string('srtp-send');
    client.p.stop();
    client.dtls.set('connection-id', '');
    assert.equal(client.dtls.string('state'), 'new', 'a detached instance has no association');
    const again = gst.Pipeline.parse(`fakesrc num-buffers=0 ! b2bdtls name=dtls connection-id=c-${id} ! fakesink`);
    assert.equal(again.element('dtls').string('state'), 'connected');
    assert.equal(again.element('dtls').string('srtp-send'), keys);
    assert.equal(connections(), before + 2);
    // Every instance says "": the association is destroyed.
    again.element('dtls').set('connection-id', '');
    assert.equal(connections(), before + 2, 'the holder still holds it');
    holder.connectionId = '';
    server.dtls.set('connection-id', '');
    assert.equal(connections(), before);
    // The same id again is a fresh association.
    holder.connectionId = `c-${id}`;
    assert.equal(String(holder.state), 'new');
    assert.equal(String(holder.srtpSend), '');
    holder.connectionId = '';
    assert.equal(connections(), before);
  });

  it('ending associations while their timers are pending or firing is safe (and leaves none behind)', async () => {
    const before = connections();
    const p = gst.Pipeline.parse(`fakesrc num-buffers=0 ! b2bdtls name=dtls ! ${SINK}`);
    p.play();
    try {
      const el = p.element('dtls');
      for (let i = 0; i < 200; i++) {
        // PLAYING and active: the ClientHello is flushed by an immediate clock callback, racing with the release.
        el.set('connection-id', `stress-${i}`);
        el.set('pem', pemA);
        el.set('is-client', true);
        el.set('active', true);
        if (i % 4 === 0) await sleep(1);
        el.set('connection-id', '');
      }
      el.set('connection-id', 'stress-last');
      el.set('pem', pemA);
      el.set('is-client', true);
      el.set('active', true);
      await waitFor('the last ClientHello sent', () => el.number('records-out') >= 1);
      el.set('connection-id', '');
      assert.equal(connections(), before);
      await sleep(50); // callbacks of released associations, if any were still queued, find them dead
    } finally {
      p.stop();
    }
  });

  it('the client retransmits a lost first flight (server ingress not accepting it yet), then connects', async () => {
    const { client, server } = pair({ serverAcceptFrom: '' });
    configure(server, pemB, fingerprint(pemA), true);
    configure(client, pemA, fingerprint(pemB), true);
    server.p.play();
    client.p.play();
    await waitFor('ClientHello rejected by the server\'s ingress', () => server.ingress.number('rejected') >= 1);
    assert.equal(client.dtls.number('retransmissions'), 0);
    server.ingress.set('remote-address', '127.0.0.1');
    await waitFor('connected', () => settled(client) && settled(server), 8000);
    assert.equal(client.dtls.string('state'), 'connected');
    assert.equal(server.dtls.string('state'), 'connected');
    assert.ok(client.dtls.number('retransmissions') >= 1, 'the client retransmitted');
    assert.equal(client.dtls.string('srtp-send'), server.dtls.string('srtp-recv'));
  });

  for (const ourRole of ['client', 'server'] as const) {
    it(`interoperates with GStreamer's dtlssrtpenc/dtlssrtpdec (we are the ${ourRole}): SRTP both ways with the exported keys`, async function () {
      if (!Gst.ElementFactory.find('dtlssrtpenc')) this.skip();
      const id = randomBytes(4).toString('hex');
      const sa = socket();
      const sg = socket();
      const rtpSrc = (ssrc: number) => `audiotestsrc is-live=true samplesperbuffer=160 ! mulawenc ! rtppcmupay ssrc=${ssrc}`;
      const sinkTo = (port: number) => `udpsink name=usink sync=false async=false close-socket=false host=127.0.0.1 port=${port}`;
      const g = gst.Pipeline.parse(
        `udpsrc name=usrc close-socket=false ! dtlssrtpdec name=gdec connection-id=g-${id}  gdec.rtp_src ! b2bsrtp name=gcount ! ${SINK}  ` +
        `${rtpSrc(0x1111)} ! genc.rtp_sink_0  dtlssrtpenc name=genc connection-id=g-${id} is-client=${ourRole === 'server'} ! ${sinkTo(sa.port)}`,
      );
      g.element('usrc').set('socket', sg);
      g.element('usink').set('socket', sg);
      g.element('gdec').set('pem', pemB);
      open.push({ p: g, socket: sg, dtls: g.element('gdec'), ingress: g.element('gdec') });
      const a = gst.Pipeline.parse(
        'udpsrc name=usrc close-socket=false ! b2bingress name=in remote-address=127.0.0.1  ' +
        `in.dtls_src ! b2bdtls name=dtls connection-id=a-${id} is-client=${ourRole === 'client'} ! funnel name=out ! ${sinkTo(sg.port)}  ` +
        `in.src ! b2bsrtp name=dec mode=unprotect ! ${SINK}  ${rtpSrc(0x2222)} ! valve name=gate drop=true ! b2bsrtp name=enc ! out.`,
      );
      a.element('usrc').set('socket', sa);
      a.element('usink').set('socket', sa);
      const ours = { p: a, socket: sa, dtls: a.element('dtls'), ingress: a.element('in') };
      open.push(ours);
      configure(ours, pemA, fingerprint(pemB), true);
      a.play();
      g.play();
      await waitFor('connected', () => settled(ours));
      assert.equal(ours.dtls.string('state'), 'connected', ours.dtls.string('error'));
      assert.equal(ours.dtls.string('profile'), 'AES_CM_128_HMAC_SHA1_80');
      assert.equal(fingerprint(String(g.element('gdec').string('peer-pem'))), fingerprint(pemA), 'GStreamer got our certificate');
      a.element('dec').set('srtp-params', ours.dtls.string('srtp-recv'));
      a.element('enc').set('srtp-params', ours.dtls.string('srtp-send'));
      a.element('gate').set('drop', false);
      const dec0 = a.element('dec').number('packets');
      await waitFor('SRTP from GStreamer decrypted', () => a.element('dec').number('packets') >= dec0 + 10);
      assert.equal(a.element('dec').number('auth-failures'), 0);
      await waitFor('our SRTP decrypted by GStreamer', () => g.element('gcount').number('packets') >= 10);
    });
  }

  it('sends nothing before active (a server answers a ClientHello only once active)', async () => {
    const { client, server } = pair();
    configure(server, pemB, fingerprint(pemA), false);
    configure(client, pemA, fingerprint(pemB), true);
    server.p.play();
    client.p.play();
    await waitFor('the server got the ClientHello', () => server.dtls.number('records-in') >= 1);
    await sleep(200);
    assert.equal(server.dtls.string('state'), 'handshaking', 'received records are processed while inactive');
    assert.equal(server.dtls.number('records-out'), 0);
    assert.equal(client.ingress.number('dtls-packets-in'), 0);
    server.dtls.set('active', true);
    await waitFor('connected', () => settled(client) && settled(server));
    assert.equal(client.dtls.string('state'), 'connected');
    assert.equal(server.dtls.string('state'), 'connected');
  });
});

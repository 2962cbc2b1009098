/**
 * Requests we do not take inside an established call are refused as outside one (core/b2bua/method-refusal.ts):
 * 501 for an unknown method, 405 for a known one, both with Allow (RFC 3261 §8.2.1, §21.4.6). On loopback, one raw
 * peer plays the caller and the proxy that answers leg B; the relay media engine (no media flows). Also: an in-dialog
 * MESSAGE whose body is not UTF-8 (RFC 4475 mpart01's binary part) is relayed to the other leg byte for byte.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { B2buaServer } from '../../../core/b2bua/index.js';
import { freePort } from '../../harness/ports.js';
import { closedAfterEach, startWithRelay, testConfig, token, udpPeer, type RawPeer } from './helpers.js';

const SDP = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n');
const ALLOW = /\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE, SUBSCRIBE\r\n/;

function header(msg: string, name: string): string {
  return new RegExp(`^${name}:\\s*(.*?)\\s*$`, 'im').exec(msg)?.[1] ?? '';
}

function vias(msg: string): string[] {
  return msg.split('\r\n').filter((l) => /^Via:/i.test(l));
}

interface LegA { callId: string; fromTag: string; toTag: string; peerPort: number; serverPort: number }

function inDialog(a: LegA, method: string, cseq: number): string {
  return [
    `${method} sip:b2bua@127.0.0.1:${a.serverPort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${a.peerPort};branch=z9hG4bK${token()};rport`,
    'Max-Forwards: 70',
    `From: <sip:alice@127.0.0.1>;tag=${a.fromTag}`,
    `To: <sip:bob@127.0.0.1>;tag=${a.toTag}`,
    `Call-ID: ${a.callId}`,
    `CSeq: ${cseq} ${method}`,
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

describe('in-dialog requests we do not take: 501 / 405 with Allow, as out of dialog', function () {
  this.timeout(10000);
  const opened = closedAfterEach();
  let server: B2buaServer | undefined;
  let peer: RawPeer | undefined;

  /** INVITE from the peer, leg B (sent to the peer as proxy) answered 200, leg A's 200 acknowledged. */
  async function establish(): Promise<LegA> {
    const serverPort = await freePort();
    peer = await udpPeer(serverPort);
    opened.peers.push(peer);
    const config = testConfig({ transport: `sip:127.0.0.1:${serverPort};transport=udp`, outboundProxy: `sip:127.0.0.1:${peer.port};transport=udp` });
    server = await startWithRelay(opened, config);
    const callId = token();
    const fromTag = token();
    peer.send([
      `INVITE sip:bob@127.0.0.1:${serverPort} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK${token()};rport`,
      'Max-Forwards: 70',
      `From: <sip:alice@127.0.0.1>;tag=${fromTag}`,
      'To: <sip:bob@127.0.0.1>',
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:alice@127.0.0.1:${peer.port}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(SDP)}`,
      '', SDP,
    ].join('\r\n'));
    const legB = await peer.expect(/^INVITE /);
    peer.send([
      'SIP/2.0 200 OK',
      ...vias(legB),
      `From: ${header(legB, 'From')}`,
      `To: ${header(legB, 'To')};tag=${token()}`,
      `Call-ID: ${header(legB, 'Call-ID')}`,
      `CSeq: ${header(legB, 'CSeq')}`,
      `Contact: <sip:bob@127.0.0.1:${peer.port}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(SDP)}`,
      '', SDP,
    ].join('\r\n'));
    const ok = await peer.expect(new RegExp(`^SIP/2\\.0 200 [^]*\\r\\nCall-ID: ${callId}\\r\\n`, 'i'));
    const toTag = /;tag=([^;\s>]+)/.exec(header(ok, 'To'))?.[1];
    assert.ok(toTag, `leg A's 200 has a To tag:\n${ok}`);
    const a: LegA = { callId, fromTag, toTag, peerPort: peer.port, serverPort };
    peer.send(inDialog(a, 'ACK', 1));
    return a;
  }

  it('X-FOO in dialog gets 501 with Allow, PUBLISH 405 with Allow; the call goes on (OPTIONS 200)', async () => {
    const a = await establish();
    peer!.send(inDialog(a, 'X-FOO', 2));
    const foo = await peer!.expect(/^SIP\/2\.0 \d+ [^]*\r\nCSeq: 2 X-FOO\r\n/, 2000);
    assert.match(foo, /^SIP\/2\.0 501 /);
    assert.match(foo, ALLOW);
    peer!.send(inDialog(a, 'PUBLISH', 3));
    const publish = await peer!.expect(/^SIP\/2\.0 \d+ [^]*\r\nCSeq: 3 PUBLISH\r\n/, 2000);
    assert.match(publish, /^SIP\/2\.0 405 /);
    assert.match(publish, ALLOW);
    peer!.send(inDialog(a, 'OPTIONS', 4));
    await peer!.expect(/^SIP\/2\.0 200 [^]*\r\nCSeq: 4 OPTIONS\r\n/, 2000);
    assert.equal(server!.counters().calls, 1);
  });

  it('an in-dialog MESSAGE with a binary body reaches leg B with the same bytes (Content-Length unchanged)', async () => {
    const a = await establish();
    const body = Buffer.from([0x30, 0x82, 0x01, 0x52, 0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x80, 0xc3, 0x28, 0x00, 0x41]);
    const head = inDialog(a, 'MESSAGE', 2).replace('Content-Length: 0\r\n', `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n`);
    // The raw peer sends text (UTF-8): these bytes go from a socket of their own; the answer goes back there.
    const sender = dgram.createSocket('udp4');
    await new Promise<void>((r) => sender.bind(0, '127.0.0.1', () => r()));
    try {
      sender.send(Buffer.concat([Buffer.from(head, 'latin1'), body]), a.serverPort, '127.0.0.1');
      const relayed = await peer!.expect(/^MESSAGE /, 2000);
      assert.equal(header(relayed, 'Content-Length'), String(body.length), 'the body was re-encoded');
    } finally {
      sender.close();
    }
  });
});

/**
 * Proxy loop avoidance (core/b2bua/loop.ts): our own leg B coming back from the proxy gets 482, nothing else does.
 * The rule on parsed requests (no sockets), then the server on loopback with a raw peer playing caller and a proxy
 * that routes everything back to the b2bua (the relay media engine: no media flows).
 */
import assert from 'node:assert/strict';
import type { B2buaServer } from '../../../core/b2bua/index.js';
import { loopVerdict, MARKER_HEADER, MARKER_VALUE } from '../../../core/b2bua/loop.js';
import { parseMessage, SipRequest } from '../../../core/sip/message.js';
import { freePort } from '../../harness/ports.js';
import { closedAfterEach, startWithRelay, testConfig, token, udpPeer, type RawPeer } from './helpers.js';

const UA = 'TestB2BUA/9.9.9';

function invite(o: { callId: string; fromTag: string; headers?: string[] }): SipRequest {
  const text = [
    'INVITE sip:bob@example.org SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK${token()}`,
    'Max-Forwards: 69',
    `From: <sip:alice@example.org>;tag=${o.fromTag}`,
    'To: <sip:bob@example.org>',
    `Call-ID: ${o.callId}`,
    'CSeq: 1 INVITE',
    ...(o.headers ?? []),
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
  const parsed = parseMessage(Buffer.from(text));
  assert.ok(parsed.ok && parsed.message instanceof SipRequest);
  return parsed.message;
}

describe('b2bua loop avoidance: the rule', () => {
  const live = new Map([['legB-call-id|legB-tag', 'c1-abcd']]);
  const legBOf = (callId: string, fromTag: string): string | undefined => live.get(`${callId}|${fromTag}`);

  it('our live leg B (its Call-ID and our From tag) is a loop, whatever its headers', () => {
    assert.deepEqual(loopVerdict(invite({ callId: 'legB-call-id', fromTag: 'legB-tag' }), legBOf, UA), { loop: true, call: 'c1-abcd' });
    const marked = invite({ callId: 'legB-call-id', fromTag: 'legB-tag', headers: [`User-Agent: ${UA}`, `${MARKER_HEADER}: ${MARKER_VALUE}`] });
    assert.deepEqual(loopVerdict(marked, legBOf, UA), { loop: true, call: 'c1-abcd' });
  });

  it('the marker header and our User-Agent copied by a third party are not a loop (reported, not refused)', () => {
    const copied = invite({ callId: token(), fromTag: token(), headers: [`User-Agent: ${UA}`, 'x-flexisip-b2bua: ignore'] });
    assert.deepEqual(loopVerdict(copied, legBOf, UA), { loop: false, marker: true, ourUserAgent: true });
    const otherB2bua = invite({ callId: token(), fromTag: token(), headers: ['User-Agent: Flexisip-B2BUA/2.5.2', `${MARKER_HEADER}: ${MARKER_VALUE}`] });
    assert.deepEqual(loopVerdict(otherB2bua, legBOf, UA), { loop: false, marker: true, ourUserAgent: false });
    assert.deepEqual(loopVerdict(invite({ callId: token(), fromTag: token() }), legBOf, UA), { loop: false, marker: false, ourUserAgent: false });
  });

  it('a live leg B Call-ID with another From tag, or our tag with another Call-ID, is not a loop', () => {
    assert.equal(loopVerdict(invite({ callId: 'legB-call-id', fromTag: token() }), legBOf, UA).loop, false);
    assert.equal(loopVerdict(invite({ callId: token(), fromTag: 'legB-tag' }), legBOf, UA).loop, false);
  });
});

const SDP = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', 'm=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', 'a=sendrecv', ''].join('\r\n');

function inviteText(peerPort: number, serverPort: number, callId: string, fromTag: string, extra: string[] = []): string {
  return [
    `INVITE sip:bob@127.0.0.1:${serverPort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${peerPort};branch=z9hG4bK${token()};rport`,
    'Max-Forwards: 70',
    `From: "Alice" <sip:alice@127.0.0.1>;tag=${fromTag}`,
    'To: <sip:bob@127.0.0.1>',
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:alice@127.0.0.1:${peerPort}>`,
    ...extra,
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(SDP)}`,
    '', SDP,
  ].join('\r\n');
}

function header(msg: string, name: string): string {
  return new RegExp(`^${name}:\\s*(.*?)\\s*$`, 'im').exec(msg)?.[1] ?? '';
}

/** What a proxy does with a request it forwards: its own Via on top. */
function forwarded(req: string, proxyPort: number): string {
  return req.replace(/\r\nVia:/i, `\r\nVia: SIP/2.0/UDP 127.0.0.1:${proxyPort};branch=z9hG4bK${token()}\r\nVia:`);
}

/** The final response a proxy relays for `req` (which it received from the b2bua). */
function responseTo(req: string, status: string): string {
  return [
    `SIP/2.0 ${status}`,
    `Via: ${header(req, 'Via')}`,
    `From: ${header(req, 'From')}`,
    `To: ${header(req, 'To')};tag=${token()}`,
    `Call-ID: ${header(req, 'Call-ID')}`,
    `CSeq: ${header(req, 'CSeq')}`,
    'Content-Length: 0',
    '', '',
  ].join('\r\n');
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const withCallId = (start: string, callId: string): RegExp => new RegExp(`^${start}[^]*\\r\\nCall-ID: ${escape(callId)}\\r\\n`, 'i');

describe('b2bua loop avoidance: the server behind a proxy that routes everything to it', function () {
  this.timeout(10000);
  const opened = closedAfterEach();
  let server: B2buaServer | undefined;
  let peer: RawPeer | undefined;

  async function start(): Promise<{ server: B2buaServer; peer: RawPeer; port: number }> {
    const port = await freePort();
    peer = await udpPeer(port);
    opened.peers.push(peer);
    const config = testConfig({ transport: `sip:127.0.0.1:${port};transport=udp`, outboundProxy: `sip:127.0.0.1:${peer.port};transport=udp` });
    server = await startWithRelay(opened, config);
    return { server, peer, port };
  }

  it('our leg B sent back by the proxy gets 482 Loop Detected; leg A ends with 482 after exactly one extra INVITE', async () => {
    const { server: s, peer: p, port } = await start();
    const callIdA = token();
    p.send(inviteText(p.port, port, callIdA, token()));
    const legB = await p.expect(/^INVITE /);
    assert.equal(header(legB, 'X-Flexisip-B2BUA'), 'ignore', `leg B carries Flexisip's marker:\n${legB}`);
    assert.match(legB, /\r\nX-Flexisip-B2BUA: ignore\r\n/, 'spelt as Flexisip does');
    assert.equal(header(legB, 'User-Agent'), UA);
    const callIdB = header(legB, 'Call-ID');
    assert.notEqual(callIdB, callIdA);

    p.send(forwarded(legB, p.port)); // the proxy did not recognise the User-Agent: leg B comes back to the b2bua
    const loop = await p.expect(withCallId('SIP/2\\.0 482 Loop Detected \\(our own leg B INVITE of call c1-', callIdB));
    assert.match(loop, /the proxy did not recognise User-Agent TestB2BUA\/9\.9\.9\)/);
    assert.equal(s.counters().loopsDetected, 1);
    assert.equal(s.counters().callsTotal, 1, 'no second call');

    p.send(responseTo(legB, '482 Loop Detected')); // the proxy relays the 482 to leg B's INVITE
    await p.expect(withCallId('SIP/2\\.0 482 ', callIdA));
    await p.expect(withCallId('ACK ', callIdB)); // leg B's 482 acknowledged
    assert.equal(p.received.filter((m) => m.startsWith('INVITE ')).length, 1, 'the b2bua sent one INVITE in all');
    for (let i = 0; i < 50 && s.counters().calls > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.counters().calls, 0);
  });

  it('an INVITE copying the marker and our User-Agent, or a live leg B Call-ID with another From tag, is a new call', async () => {
    const { server: s, peer: p, port } = await start();
    p.send(inviteText(p.port, port, token(), token(), [`User-Agent: ${UA}`, 'X-Flexisip-B2BUA: ignore']));
    const first = await p.expect(/^INVITE /);
    const callIdB = header(first, 'Call-ID');
    // same Call-ID as our live leg B, but a From tag of the sender's own: not ours
    p.send(inviteText(p.port, port, callIdB, token()));
    const second = await p.expect(/^INVITE /);
    assert.notEqual(header(second, 'Call-ID'), callIdB);
    assert.equal(s.counters().loopsDetected, 0);
    assert.equal(s.counters().callsTotal, 2);
    assert.ok(!p.received.some((m) => m.startsWith('SIP/2.0 482')), p.received.join('\n---\n'));
    p.send(responseTo(first, '486 Busy Here'));
    p.send(responseTo(second, '486 Busy Here'));
    await p.expect(/^SIP\/2\.0 486 /);
    await p.expect(/^SIP\/2\.0 486 /);
  });
});

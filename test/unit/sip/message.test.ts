import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { formatNameAddr, parseNameAddr, parseVia, quoteDisplayName } from '../../../core/sip/headers.js';
import { makeResponse, newBranch, parseMessage, SipRequest } from '../../../core/sip/message.js';
import { formatUri, parseUri } from '../../../core/sip/uri.js';

const INVITE = [
  'INVITE sip:bob@[2001:db8::1]:5070;transport=udp SIP/2.0',
  'Via: SIP/2.0/UDP [2001:db8::2]:5062;branch=z9hG4bKabc;rport',
  'v: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKdef',
  'Max-Forwards: 70',
  'From: "Al \\"the\\" Caller" <sip:alice@[2001:db8::2]>;tag=a1',
  't: <sip:bob@[2001:db8::1]>',
  'Call-ID: 1234@x',
  'CSeq: 7 INVITE',
  'Contact: <sip:alice@[2001:db8::2]:5062>',
  'Content-Type: application/sdp',
  'Content-Length: 12',
  '',
  'héllo wörld',
].join('\r\n');

describe('sip message parsing', () => {
  it('parses IPv6 hosts in the Request-URI, Via, From and Contact (npm sip cannot)', () => {
    const r = parseMessage(Buffer.from(INVITE, 'utf8'));
    assert.ok(r.ok, !r.ok ? r.error : '');
    const m = r.message as SipRequest;
    assert.equal(m.method, 'INVITE');
    const uri = parseUri(m.uri)!;
    assert.equal(uri.host, '2001:db8::1');
    assert.equal(uri.port, 5070);
    assert.equal(uri.params['transport'], 'udp');
    assert.deepEqual(m.vias.map((v) => [v.protocol, v.host, v.port]), [['UDP', '2001:db8::2', 5062], ['TCP', '10.0.0.1', 5060]]);
    assert.equal(m.branch, 'z9hG4bKabc');
    assert.equal(m.from.displayName, 'Al "the" Caller');
    assert.equal(m.fromTag, 'a1');
    assert.equal(parseUri(m.to.uri)!.host, '2001:db8::1');
    assert.equal(formatUri(uri), 'sip:bob@[2001:db8::1]:5070;transport=udp');
  });

  it('reads the body by UTF-8 bytes and writes Content-Length in bytes', () => {
    const r = parseMessage(Buffer.from(INVITE, 'utf8'));
    assert.ok(r.ok);
    assert.equal(r.message.body, 'héllo wörl'); // 12 bytes: é and ö are 2 bytes each
    const req = new SipRequest('MESSAGE', 'sip:bob@example.org');
    req.body = 'ça coûte 5 €';
    const wire = req.toBuffer().toString('utf8');
    assert.match(wire, /Content-Length: 16\r\n/);
    const back = parseMessage(req.toBuffer());
    assert.ok(!back.ok); // no Via etc., but the body must still be complete
    const again = parseMessage(Buffer.from(wire.replace('MESSAGE sip:bob@example.org SIP/2.0\r\n', `MESSAGE sip:bob@example.org SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=${newBranch()}\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\n`)));
    assert.ok(again.ok, !again.ok ? again.error : '');
    assert.equal(again.message.body, 'ça coûte 5 €');
  });

  it('refuses a Content-Length larger than the body, with a request usable for a 400', () => {
    const r = parseMessage(Buffer.from(INVITE.replace('Content-Length: 12', 'Content-Length: 400'), 'utf8'));
    assert.ok(!r.ok);
    assert.match(r.error, /Content-Length 400/);
    assert.ok(r.request);
    const res = makeResponse(r.request, 400, 'Bad Request');
    assert.match(res.toString(), /^SIP\/2\.0 400 Bad Request\r\nVia: SIP\/2\.0\/UDP \[2001:db8::2\]:5062;branch=z9hG4bKabc;rport\r\n/);
  });

  it('never throws on malformed or random input', () => {
    const samples = [
      '', '\r\n\r\n', 'INVITE', 'SIP/2.0 999 x\r\n\r\n', 'SIP/2.0 200\r\n\r\n', 'INVITE sip:x SIP/2.0\r\nVia: \r\n\r\n',
      INVITE.replace('CSeq: 7 INVITE', 'CSeq: x'), INVITE.replace(/From: .*/, 'From: "unterminated <sip:a@b>'),
      INVITE.replace(/Via: .*/, 'Via: SIP/2.0/UDP [::1'), INVITE.replace('Content-Length: 12', 'Content-Length: -1'),
      INVITE.replace(/\r\n/g, '\n'), `${INVITE.slice(0, 100)}\u0000\u00ff`,
    ];
    for (let i = 0; i < 300; i++) {
      const cut = INVITE.slice(0, Math.floor(Math.random() * INVITE.length));
      samples.push(cut, cut + randomBytes(20).toString('latin1'));
    }
    for (let i = 0; i < 200; i++) samples.push(randomBytes(1 + Math.floor(Math.random() * 300)).toString('latin1'));
    for (const s of samples) {
      const r = parseMessage(Buffer.from(s, 'latin1'));
      assert.equal(typeof r.ok, 'boolean');
      if (r.ok) {
        // any parsed message can be serialised again
        assert.ok(r.message.toBuffer().length > 0);
      }
    }
  });

  it('refuses a CSeq method that does not match the request', () => {
    const r = parseMessage(Buffer.from(INVITE.replace('CSeq: 7 INVITE', 'CSeq: 7 BYE'), 'utf8'));
    assert.ok(!r.ok);
    assert.match(r.error, /CSeq method BYE does not match INVITE/);
  });
});

describe('sip headers', () => {
  it('quotes display names, escaping quotes and backslashes, and reads them back', () => {
    for (const name of ['Alice', 'A "quoted" name', 'back\\slash', 'Zoë Ünïcode', '\\"']) {
      const text = formatNameAddr({ displayName: name, uri: 'sip:a@b', params: { tag: 'x' } });
      const back = parseNameAddr(text)!;
      assert.equal(back.displayName, name, text);
      assert.equal(back.params['tag'], 'x');
    }
    assert.equal(quoteDisplayName('a"b\\c'), '"a\\"b\\\\c"');
  });

  it('reads token display names and addr-spec header params', () => {
    assert.deepEqual(parseNameAddr('Bob Smith <sip:bob@h;transport=tcp>;tag=9'), { displayName: 'Bob Smith', uri: 'sip:bob@h;transport=tcp', params: { tag: '9' } });
    assert.deepEqual(parseNameAddr('sip:bob@h;tag=9'), { displayName: undefined, uri: 'sip:bob@h', params: { tag: '9' } });
    assert.equal(parseNameAddr('<sip:bob@h'), undefined);
  });

  it('parses Via with IPv6 and no port', () => {
    assert.deepEqual(parseVia('SIP/2.0/TLS [::1];branch=z9hG4bK1'), { protocol: 'TLS', host: '::1', port: undefined, params: { branch: 'z9hG4bK1' } });
    assert.equal(parseVia('SIP/2.0/UDP'), undefined);
  });
});

describe('branch ids and tags', () => {
  it('are z9hG4bK + 96 random bits, all distinct', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10000; i++) {
      const b = newBranch();
      assert.match(b, /^z9hG4bK[A-Za-z0-9_-]{16}$/);
      seen.add(b);
    }
    assert.equal(seen.size, 10000);
  });
});

/**
 * RFC 4475 torture messages (§3.1.1 valid, §3.1.2 invalid) through parseMessage, plus extension
 * methods and CSeq up to 2^32-1. Messages are written from the RFC text (LF line ends become CRLF).
 */
import { strict as assert } from 'node:assert';
import { parseMessage, SipRequest, SipResponse } from '../../../core/sip/message.js';
import { parseNameAddr } from '../../../core/sip/headers.js';
import { StreamFramer } from '../../../core/sip/stream-framer.js';
import { DEFAULT_STREAM_LIMITS } from '../../../core/sip/transport.js';
import { parseUri } from '../../../core/sip/uri.js';
import type { B2buaServer } from '../../../core/b2bua/index.js';
import { freePort } from '../../harness/ports.js';
import { closedAfterEach, startWithRelay, streamPeer, testConfig, udpPeer, type RawPeer } from '../b2bua/helpers.js';

function wire(text: string): Buffer {
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');
}

const SDP = 'v=0\no=mhandley 29739 7272939 IN IP4 192.0.2.3\ns=-\nc=IN IP4 192.0.2.4\nt=0 0\nm=audio 49217 RTP/AVP 0 12\nm=video 3227 RTP/AVP 31\na=rtpmap:31 LPC\n';

/** The SDP of esc01 and longreq (150 bytes with CRLF). */
const SDP_192_0_2_1 = 'v=0\no=mhandley 29739 7272939 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 49217 RTP/AVP 0 12\nm=video 3227 RTP/AVP 31\na=rtpmap:31 LPC\n';

const VALID: Record<string, string> = {
  wsinv: `INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : 150
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33

${SDP}`,
  intmeth: `!interesting-Method0123456789_*+\`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0
Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+\`'~
To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>
From: token1~\` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%="\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439";tag=_token~1'+\`*%!-.
Call-ID: intmeth.word%ZK-!.*_+'@word\`~)(><:\\/"][?}{
CSeq: 139122385 !interesting-Method0123456789_*+\`.%indeed'~
Max-Forwards: 255
extensionHeader-!.%*+_\`'~:\uFEFF\u5927\u505C\u96FB
Content-Length: 0

`,
  esc02: `RE%47IST%45R sip:registrar.example.com SIP/2.0
To: "%Z%45" <sip:resource@example.com>
From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23
Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf
Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234
CSeq: 29344 RE%47IST%45R
Max-Forwards: 70
Contact: <sip:alias1@host1.example.com>
C%6Fntact: <sip:alias2@host2.example.com>
Contact: <sip:alias3@host3.example.com>
l: 0

`,
  lwsdisp: `OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: caller<sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID: lwsdisp.1234abcd@funky.example.com
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw
l: 0

`,
  semiuri: `OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0
To: sip:j_user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Call-ID: semiuri.0ha0isndaksdj
CSeq: 8 OPTIONS
Accept: application/sdp, application/pkcs7-mime,
        multipart/mixed, multipart/signed,
        message/sip, message/sipfrag
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw
l: 0

`,
  transports: `OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: <sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID:  transports.kijh4akdnaqjkwendsasfdj
Accept: application/sdp
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw
Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf
Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj
Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en
Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee
l: 0

`,
  unreason: `SIP/2.0 200 = 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f\u043d\u043e\u0441\u0442\u043e \u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e\u0435
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923
Call-ID: unreason.1234ksdfak3j2erwedfsASdf
CSeq: 35 INVITE
From: sip:user@example.com;tag=11141343
To: sip:user@example.edu;tag=2229
Content-Length: 154
Content-Type: application/sdp
Contact: <sip:user@host198.example.com>

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.198
s=-
c=IN IP4 192.0.2.198
t=0 0
m=audio 49217 RTP/AVP 0 12
m=video 3227 RTP/AVP 31
a=rtpmap:31 LPC
`,
  esc01: `INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0
To: sip:%75se%72@example.com
From: <sip:I%20have%20spaces@example.net>;tag=938
Max-Forwards: 87
i: esc01.239409asdfakjkn23onasd0-3234
CSeq: 234234 INVITE
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw
C: application/sdp
Contact:
  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
Content-Length: 150

${SDP_192_0_2_1}`,
  escnull: `REGISTER sip:example.com SIP/2.0
To: sip:null-%00-null@example.com
From: sip:null-%00-null@example.com;tag=839923423
Max-Forwards: 70
Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd
CSeq: 14398234 REGISTER
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw
Contact: <sip:%00@host5.example.com>
Contact: <sip:%00%00@host5.example.com>
L:0

`,
  longreq: `INVITE sip:user@example.com SIP/2.0
To: "I have a user name of ${'extreme'.repeat(10)} proportion"<sip:user@example.com:6000;unknownparam1=very${'long'.repeat(20)}value;longparam${'name'.repeat(25)}=shortvalue;very${'long'.repeat(25)}ParameterNameWithNoValue>
F: sip:${'amazinglylongcallername'.repeat(5)}@example.net;tag=12${'982'.repeat(50)}424;unknownheaderparam${'name'.repeat(20)}=unknowheaderparam${'value'.repeat(15)};unknownValueless${'paramname'.repeat(10)}
Call-ID: longreq.one${'really'.repeat(20)}longcallid
CSeq: 3882340 INVITE
Unknown-${'Long'.repeat(20)}-Name: unknown-${'long'.repeat(20)}-value; unknown-${'long'.repeat(20)}-parameter-name = unknown-${'long'.repeat(20)}-parameter-value
Via: SIP/2.0/TCP sip33.example.com
v: SIP/2.0/TCP sip32.example.com
V: SIP/2.0/TCP sip31.example.com
Via: SIP/2.0/TCP sip30.example.com
ViA: SIP/2.0/TCP sip29.example.com
VIa: SIP/2.0/TCP sip28.example.com
VIA: SIP/2.0/TCP sip27.example.com
via: SIP/2.0/TCP sip26.example.com
viA: SIP/2.0/TCP sip25.example.com
vIa: SIP/2.0/TCP sip24.example.com
vIA: SIP/2.0/TCP sip23.example.com
V :  SIP/2.0/TCP sip22.example.com
v :  SIP/2.0/TCP sip21.example.com
V  : SIP/2.0/TCP sip20.example.com
v  : SIP/2.0/TCP sip19.example.com
Via : SIP/2.0/TCP sip18.example.com
Via  : SIP/2.0/TCP sip17.example.com
${Array.from({ length: 16 }, (_, i) => `Via: SIP/2.0/TCP sip${16 - i}.example.com`).join('\n')}
Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very${'long'.repeat(50)}branchvalue
Max-Forwards: 70
Contact: <sip:${'amazinglylongcallername'.repeat(5)}@host5.example.net>
Content-Type: application/sdp
l: 150

${SDP_192_0_2_1}`,
  dblreq: `REGISTER sip:example.com SIP/2.0
To: sip:j.user@example.com
From: sip:j.user@example.com;tag=43251j3j324
Max-Forwards: 8
I: dblreq.0ha0isndaksdj99sdfafnl3lk233412
Contact: sip:j.user@host.example.com
CSeq: 8 REGISTER
Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492
Content-Length: 0

INVITE sip:joe@example.com SIP/2.0
t: sip:joe@example.com
From: sip:caller@example.net;tag=141334
Max-Forwards: 8
Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234
Content-Type: application/sdp
Content-Length: 150

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.15
s=-
c=IN IP4 192.0.2.15
t=0 0
m=audio 49217 RTP/AVP 0 12
m =video 3227 RTP/AVP 31
a=rtpmap:31 LPC
`,
  noreason: `SIP/2.0 100 \nVia: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: noreason.asndj203insdf99223ndf
CSeq: 35 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
Contact: <sip:user@host105.example.com>

`,
};

/**
 * mpart01 (§3.1.1.11): a MESSAGE whose multipart/mixed body has a binary part holding NUL bytes. The RFC's binary
 * part is a DER-encoded PKCS#7 signature, printed only as a hex dump; here it is 0x30 0x82 (a DER SEQUENCE, as the
 * RFC's starts) then deterministic bytes covering 0x00, CR, LF and bytes that are not UTF-8, sized so the body is 553
 * bytes as in the RFC. Headers as in the RFC.
 */
const MPART01_BOUNDARY = '7a9cbec02ceef655';
function mpart01Body(): Buffer {
  const head = Buffer.from(`--${MPART01_BOUNDARY}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\nHello\r\n`
    + `--${MPART01_BOUNDARY}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n`, 'latin1');
  const tail = Buffer.from(`\r\n--${MPART01_BOUNDARY}--\r\n`, 'latin1');
  const binary = Buffer.alloc(553 - head.length - tail.length);
  binary[0] = 0x30; binary[1] = 0x82;
  for (let i = 2; i < binary.length; i++) binary[i] = (i * 37 + 11) & 0xff;
  return Buffer.concat([head, binary, tail]);
}
const MPART01_BODY = mpart01Body();
const MPART01 = Buffer.concat([wire(`MESSAGE sip:kumiko@example.org SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport
Max-Forwards: 70
Route: <sip:127.0.0.1:5080>
Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=
Contact: <sip:fluffy@127.0.0.1:5070>
To: <sip:kumiko@example.org>
From: <sip:fluffy@example.com>;tag=2fb0dcc9
Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..
CSeq: 1 MESSAGE
Content-Transfer-Encoding: binary
Content-Type: multipart/mixed;boundary=${MPART01_BOUNDARY}
Date: Sat, 15 Oct 2005 04:44:56 GMT
User-Agent: SIPimp.org/0.2.5 (curses)
Content-Length: 553

`), MPART01_BODY]);

/** Invalid messages: the status the RFC recommends (400, 505), or undefined for "drop". */
const INVALID: Record<string, { text: string; status: number | undefined }> = {
  badinv01: { status: 400, text: `INVITE sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=134161461246
Max-Forwards: 7
Call-ID: badinv01.0ha0isndaksdjasdf3234nas
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.15;;,;,,
Contact: "Joe" <sip:joe@example.org>;;;;
Content-Length: 0

` },
  clerr: { status: 400, text: `INVITE sip:user@example.com SIP/2.0
Max-Forwards: 80
To: sip:j.user@example.com
From: sip:caller@example.net;tag=93942939o2
Contact: <sip:caller@hungry.example.net>
Call-ID: clerr.0ha0isndaksdjweiafasdk3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523
Content-Type: application/sdp
Content-Length: 9999

v=0
o=mhandley 29739 7272939 IN IP4 192.0.2.155
s=-
c=IN IP4 192.0.2.155
t=0 0
m=audio 49217 RTP/AVP 0
` },
  scalar02: { status: 400, text: `INVITE sip:user@example.com SIP/2.0
Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bK-.!%66*_+\`'~
Max-Forwards: 254
To: sip:j.user@example.com
From: sip:caller@example.net;tag=32394234
Call-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32
CSeq: 0 INVITE
Contact: <sip:caller@host1.example.com>
Content-Type: application/sdp
Content-Length: -999

` },
  scalarlg: { status: 400, text: `REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3
To: <sip:user@example.com>
From: <sip:user@example.com>;tag=239232jh3
CSeq: 36893488147419103232 REGISTER
Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r
Max-Forwards: 300
Expires: 1${'0'.repeat(40)}
Contact: <sip:user@host129.example.com>
  ;expires=280297596632815
Content-Length: 0

` },
  quotbal: { status: 400, text: `INVITE sip:user@example.com SIP/2.0
To: "Mr. J. User <sip:j.user@example.com>
From: sip:caller@example.net;tag=93334
Max-Forwards: 10
Call-ID: quotbal.aksdj
Contact: <sip:caller@host59.example.net>
CSeq: 8 INVITE
Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234
Content-Type: application/sdp
Content-Length: 0

` },
  ltgtruri: { status: 400, text: `INVITE <sip:user@example.com> SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=39291
Max-Forwards: 23
Call-ID: ltgtruri.1@192.0.2.5
CSeq: 1 INVITE
Via: SIP/2.0/UDP 192.0.2.5
Contact: <sip:caller@host5.example.net>
Content-Type: application/sdp
Content-Length: 0

` },
  lwsruri: { status: 400, text: `INVITE sip:user@example.com; lr SIP/2.0
To: sip:user@example.com;tag=3xfe-9921883-z9f
From: sip:caller@example.net;tag=231413434
Max-Forwards: 5
Call-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423
CSeq: 2130706432 INVITE
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395
Contact: <sip:caller@host1.example.net>
Content-Type: application/sdp
Content-Length: 0

` },
  lwsstart: { status: 400, text: `INVITE  sip:user@example.com  SIP/2.0
Max-Forwards: 8
To: sip:user@example.com
From: sip:caller@example.net;tag=8814
Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com
CSeq: 1893884 INVITE
Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923
Contact: <sip:caller@host1.example.net>
Content-Type: application/sdp
Content-Length: 0

` },
  trws: { status: 400, text: `OPTIONS sip:remote-target@example.com SIP/2.0  
Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK299342093
To: <sip:remote-target@example.com>
From: <sip:local-resource@example.com>;tag=329429089
Call-ID: trws.oicu34958239neffasdhr2345r
Accept: application/sdp
CSeq: 238923 OPTIONS
Max-Forwards: 70
Content-Length: 0

` },
  escruri: { status: 400, text: `INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=341518
Max-Forwards: 7
Contact: <sip:caller@host39923.example.net>
Call-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5
CSeq: 149209342 INVITE
Via: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw
Content-Type: application/sdp
Content-Length: 0

` },
  baddate: { status: 400, text: `INVITE sip:user@example.com SIP/2.0
To: sip:user@example.com
From: sip:caller@example.net;tag=2234923
Max-Forwards: 70
Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234
CSeq: 1392934 INVITE
Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
Date: Fri, 01 Jan 2010 16:00:00 EST
Contact: <sip:caller@host5.example.net>
Content-Type: application/sdp
Content-Length: 0

` },
  regbadct: { status: 400, text: `REGISTER sip:example.com SIP/2.0
To: sip:user@example.com
From: sip:user@example.com;tag=998332
Max-Forwards: 70
Call-ID: regbadct.k345asrl3fdbv@10.0.0.1
CSeq: 1 REGISTER
Via: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw
Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E
l: 0

` },
  badaspec: { status: 400, text: `OPTIONS sip:user@example.org SIP/2.0
Via: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234
Max-Forwards: 70
From: "Bell, Alexander" <sip:a.g.bell@example.com>;tag=433423
To: "Watson, Thomas" < sip:t.watson@example.org >
Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3
Accept: application/sdp
CSeq: 3923239 OPTIONS
l: 0

` },
  baddn: { status: 400, text: `OPTIONS sip:t.watson@example.org SIP/2.0
Via:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw
Max-Forwards:      70
From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43
To:      Watson, Thomas <sip:t.watson@example.org>
Call-ID: baddn.31415@c.example.com
Accept: application/sdp
CSeq:    3923239 OPTIONS
l: 0

` },
  badvers: { status: 505, text: `OPTIONS sip:t.watson@example.org SIP/7.0
Via:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw
Max-Forwards:     70
From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe
To:      T. Watson <sip:t.watson@example.org>
Call-ID: badvers.31417@c.example.com
CSeq:    1 OPTIONS
l: 0

` },
  mismatch01: { status: 400, text: `OPTIONS sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=34525
Max-Forwards: 6
Call-ID: mismatch01.dj0234sxdfl3
CSeq: 8 INVITE
Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw
l: 0

` },
  mismatch02: { status: 400, text: `NEWMETHOD sip:user@example.com SIP/2.0
To: sip:j.user@example.com
From: sip:caller@example.net;tag=34525
Max-Forwards: 6
Call-ID: mismatch02.dj0234sxdfl3
CSeq: 8 INVITE
Contact: <sip:caller@host.example.net>
Via: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw
Content-Type: application/sdp
l: 0

` },
  bigcode: { status: undefined, text: `SIP/2.0 4294967301 better not break the receiver
Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe
Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i
CSeq: 353494 INVITE
From: <sip:user@example.com>;tag=39ansfi3
To: <sip:user@example.edu>;tag=902jndnke3
Content-Length: 0
Contact: <sip:user@host105.example.com>

` },
};

describe('RFC 4475 torture messages', () => {
  for (const [name, text] of Object.entries(VALID)) {
    it(`valid: ${name} parses`, () => {
      const r = parseMessage(wire(text));
      assert.ok(r.ok, r.ok ? '' : r.error);
    });
  }

  it('wsinv: folded CSeq with leading zeros, three Vias, empty Subject', () => {
    const r = parseMessage(wire(VALID['wsinv']!));
    assert.ok(r.ok);
    assert.deepEqual(r.message.cseq, { seq: 9, method: 'INVITE' });
    assert.equal(r.message.vias.length, 3);
    assert.equal(r.message.get('subject'), '');
    assert.equal(r.message.body.length, 150);
  });

  it('intmeth / esc02: the method is a token kept as written (% is no escape)', () => {
    const i = parseMessage(wire(VALID['intmeth']!));
    assert.ok(i.ok && i.message instanceof SipRequest);
    assert.equal(i.message.method, "!interesting-Method0123456789_*+`.%indeed'~");
    assert.equal(i.message.cseq.seq, 139122385);
    const e = parseMessage(wire(VALID['esc02']!));
    assert.ok(e.ok && e.message instanceof SipRequest);
    assert.equal(e.message.method, 'RE%47IST%45R');
    assert.notEqual(e.message.method, 'REGISTER');
  });

  it('transports: a Via transport is any token (SCTP, UNKNOWN)', () => {
    const r = parseMessage(wire(VALID['transports']!));
    assert.ok(r.ok);
    assert.deepEqual(r.message.vias.map((v) => v.protocol), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
  });

  it('noreason / unreason: empty and UTF-8 reason phrases', () => {
    const n = parseMessage(wire(VALID['noreason']!));
    assert.ok(n.ok && n.message instanceof SipResponse);
    assert.equal(n.message.status, 100);
    assert.equal(n.message.reason, '');
    const u = parseMessage(wire(VALID['unreason']!));
    assert.ok(u.ok && u.message instanceof SipResponse);
    assert.match(u.message.reason, /^= 2\*\*3 \* 5\*\*2 но сто/);
  });

  it('esc01 (§3.1.1.3): escapes are kept as written; %40 in the user part is no user/host separator', () => {
    const r = parseMessage(wire(VALID['esc01']!));
    assert.ok(r.ok && r.message instanceof SipRequest);
    assert.equal(r.message.uri, 'sip:sips%3Auser%40example.com@example.net');
    const ruri = parseUri(r.message.uri);
    assert.equal(ruri?.user, 'sips%3Auser%40example.com');
    assert.equal(ruri?.host, 'example.net');
    assert.equal(parseUri(r.message.to.uri)?.user, '%75se%72');
    assert.equal(parseUri(r.message.from.uri)?.user, 'I%20have%20spaces');
    const contact = parseUri(parseNameAddr(r.message.get('contact')!)!.uri);
    assert.deepEqual(contact?.params, { '%6c%72': null, 'n%61me': 'v%61lue%25%34%31' });
    assert.equal(r.message.callId, 'esc01.239409asdfakjkn23onasd0-3234');
    assert.equal(r.message.contentType, 'application/sdp');
    assert.equal(Buffer.byteLength(r.message.body), 150);
  });

  it('escnull (§3.1.1.4): %00 stays three characters, no NUL ends a string; two Contacts', () => {
    const r = parseMessage(wire(VALID['escnull']!));
    assert.ok(r.ok && r.message instanceof SipRequest);
    assert.equal(parseUri(r.message.to.uri)?.user, 'null-%00-null');
    assert.equal(r.message.fromTag, '839923423');
    assert.deepEqual(r.message.getAll('contact').map((c) => parseUri(parseNameAddr(c)!.uri)?.user), ['%00', '%00%00']);
    assert.ok(!r.message.toString().includes('\0'));
  });

  it('longreq (§3.1.1.7): 34 Vias, long values, well within the 16 KB TCP/TLS header cap', () => {
    const bytes = wire(VALID['longreq']!);
    const headerBytes = bytes.indexOf('\r\n\r\n') + 4;
    assert.ok(headerBytes > 3000 && headerBytes < DEFAULT_STREAM_LIMITS.maxHeaderBytes, `header section ${headerBytes} bytes`);
    const framed = new StreamFramer(DEFAULT_STREAM_LIMITS).push(bytes);
    assert.equal(framed.error, undefined);
    assert.equal(framed.messages.length, 1);
    const r = parseMessage(framed.messages[0]!);
    assert.ok(r.ok && r.message instanceof SipRequest);
    assert.equal(r.message.vias.length, 34);
    assert.equal(r.message.vias[0]!.host, 'sip33.example.com');
    assert.equal(r.message.vias[33]!.params['branch'], `very${'long'.repeat(50)}branchvalue`);
    assert.equal(r.message.callId, `longreq.one${'really'.repeat(20)}longcallid`);
    assert.equal(r.message.to.params['tag'], undefined);
    assert.equal(r.message.fromTag, `12${'982'.repeat(50)}424`);
    assert.equal(parseUri(r.message.to.uri)?.port, 6000);
    const long = `unknown-${'long'.repeat(20)}`;
    assert.equal(r.message.get(`unknown-${'long'.repeat(20)}-name`), `${long}-value; ${long}-parameter-name = ${long}-parameter-value`);
    assert.equal(Buffer.byteLength(r.message.body), 150);
  });

  it('dblreq (§3.1.1.8): the octets after the REGISTER\'s Content-Length: 0 are ignored', () => {
    const r = parseMessage(wire(VALID['dblreq']!));
    assert.ok(r.ok && r.message instanceof SipRequest);
    assert.equal(r.message.method, 'REGISTER');
    assert.equal(r.message.callId, 'dblreq.0ha0isndaksdj99sdfafnl3lk233412');
    assert.equal(r.message.body, '');
    assert.ok(!r.message.toString().includes('INVITE'), 'the INVITE octets would be forwarded');
  });

  it('mpart01 (§3.1.1.11): a binary multipart body is framed by Content-Length and kept byte for byte', () => {
    const r = parseMessage(MPART01);
    assert.ok(r.ok && r.message instanceof SipRequest);
    assert.equal(r.message.method, 'MESSAGE');
    assert.equal(r.message.contentType, 'multipart/mixed');
    assert.ok(MPART01_BODY.includes(0) && MPART01_BODY.length === 553);
    const out = r.message.toBuffer();
    const body = out.subarray(out.indexOf('\r\n\r\n') + 4);
    assert.ok(body.equals(MPART01_BODY), `body changed: ${body.length} bytes sent for 553 received`);
    assert.match(out.toString('latin1'), /\r\nContent-Length: 553\r\n/);
  });

  for (const [name, { text, status }] of Object.entries(INVALID)) {
    it(`invalid: ${name} → ${status ?? 'dropped'}`, () => {
      const r = parseMessage(wire(text));
      assert.equal(r.ok, false, `${name} was accepted`);
      if (r.ok) return;
      if (status === undefined) assert.equal(r.request, undefined, 'a dropped message must not be answerable');
      else {
        assert.ok(r.request, `${name} cannot be answered: ${r.error}`);
        assert.equal(r.status ?? 400, status, r.error);
      }
    });
  }
});

describe('extension methods and 32-bit CSeq', () => {
  const request = (method: string, cseq: string): Buffer => wire(`${method} sip:b2bua@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx1
From: <sip:a@127.0.0.1>;tag=1
To: <sip:b@127.0.0.1>
Call-ID: ext-${method}
CSeq: ${cseq} ${method}
Max-Forwards: 70
Content-Length: 0

`);

  it('X-FOO is a valid request', () => {
    const r = parseMessage(request('X-FOO', '1'));
    assert.ok(r.ok && r.message instanceof SipRequest);
    assert.equal(r.message.method, 'X-FOO');
  });

  it('CSeq 4294967295 (2^32-1) is valid, 4294967296 is a 400', () => {
    const ok = parseMessage(request('OPTIONS', '4294967295'));
    assert.ok(ok.ok);
    assert.equal(ok.message.cseq.seq, 4294967295);
    const big = parseMessage(request('OPTIONS', '4294967296'));
    assert.ok(!big.ok && big.request, 'CSeq 2^32 must be answerable with 400');
  });
});

describe('RFC 4475 valid messages sent to the server on loopback: answered as such requests are', function () {
  this.timeout(10000);
  const opened = closedAfterEach();
  const peers = opened.peers;
  let server: B2buaServer | undefined;

  /** The server on UDP and TCP, its outbound proxy a raw UDP peer (where leg B INVITEs go). */
  async function start(): Promise<{ port: number; proxy: RawPeer }> {
    const port = await freePort();
    const proxy = await udpPeer(port);
    peers.push(proxy);
    const config = testConfig({ transport: `sip:127.0.0.1:${port}`, outboundProxy: `sip:127.0.0.1:${proxy.port};transport=udp` });
    server = await startWithRelay(opened, config);
    return { port, proxy };
  }

  const ALLOW = /\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE, SUBSCRIBE\r\n/;

  it('dblreq in one UDP datagram: the REGISTER gets 405 with Allow, the trailing INVITE nothing, no call', async () => {
    const { port } = await start();
    const peer = await udpPeer(port);
    peers.push(peer);
    peer.send(wire(VALID['dblreq']!).toString('utf8'));
    const res = await peer.expect(/^SIP\/2\.0 405 /, 2000);
    assert.match(res, /\r\nCSeq: 8 REGISTER\r\n/);
    assert.match(res, ALLOW);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(peer.received.length, 1, `more than one answer:\n${peer.received.join('\n---\n')}`);
    assert.equal(server!.counters().callsTotal, 0);
  });

  it('escnull (REGISTER) and mpart01 (MESSAGE outside a dialog) get 405 with Allow', async () => {
    const { port } = await start();
    const peer = await udpPeer(port);
    peers.push(peer);
    peer.send(wire(VALID['escnull']!).toString('utf8'));
    const reg = await peer.expect(/^SIP\/2\.0 405 [^]*\r\nCSeq: 14398234 REGISTER\r\n/, 2000);
    assert.match(reg, ALLOW);
    peer.send(MPART01.toString('latin1'));
    const msg = await peer.expect(/^SIP\/2\.0 \d+ [^]*\r\nCSeq: 1 MESSAGE\r\n/, 2000);
    assert.match(msg, /^SIP\/2\.0 405 /);
    assert.match(msg, ALLOW);
  });

  // Their SDP ends with a=rtpmap:31 LPC (no clock rate, RFC 4566 §6), which the offer checks refuse: the SIP part was
  // accepted (no 400) and the INVITE went as far as an INVITE goes with that offer, a 488 naming the line.
  it('longreq over TCP and esc01 over UDP are taken as INVITEs: 100 Trying, then 488 for their SDP, never 400', async () => {
    const { port, proxy } = await start();
    const tcp = await streamPeer(port, false);
    const udp = await udpPeer(port);
    peers.push(tcp, udp);
    tcp.send(wire(VALID['longreq']!).toString('utf8'));
    await tcp.expect(/^SIP\/2\.0 100 [^]*\r\nCSeq: 3882340 INVITE\r\n/, 2000);
    const long = await tcp.expect(/^SIP\/2\.0 [2-6]\d\d [^]*\r\nCSeq: 3882340 INVITE\r\n/, 2000);
    assert.match(long, /^SIP\/2\.0 488 [^\r]*a=rtpmap:31 LPC/);
    assert.equal((long.match(/\r\nVia: /g) ?? []).length, 34, 'the 34 Vias are copied into the response');
    udp.send(wire(VALID['esc01']!).toString('utf8'));
    await udp.expect(/^SIP\/2\.0 100 [^]*\r\nCSeq: 234234 INVITE\r\n/, 2000);
    const esc = await udp.expect(/^SIP\/2\.0 [2-6]\d\d [^]*\r\nCSeq: 234234 INVITE\r\n/, 2000);
    assert.match(esc, /^SIP\/2\.0 488 [^\r]*a=rtpmap:31 LPC/);
    assert.match(esc, /\r\nTo: sip:%75se%72@example\.com;tag=/, 'the To is copied as written');
    assert.deepEqual(proxy.received, [], 'no leg B for a refused offer');
  });
});

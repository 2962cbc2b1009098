/**
 * SDP attacks through the real daemon with sipp: a caller's hostile offer (no usable a=crypto line, 49 m-lines, a host
 * name in c=, a=ptime 2^64) is refused 488 with a Warning 399 naming the problem, and the callee (a sipp UAS behind the
 * outbound proxy) receives no INVITE, while the same RTP/SAVP offer with one good key does reach it. With audio-port
 * holding one call's ports (4 = two RTP/RTCP pairs, legs A and B, media-engine=relay), a second INVITE while the first
 * call is up gets 503 with Retry-After: 5. Nothing is left behind in /counters.
 */
import assert from 'node:assert/strict';
import { LIVE_COUNTERS, startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir } from '../../harness/run-dir.js';
import { received, startSipp, waitForListening, type SippResult, type SippRun } from '../../harness/sipp.js';
import { readIfExists } from '../../harness/wait.js';

const SCENARIO = 'uac_sdp_refused.xml';
/** 30 bytes (16-byte key + 14-byte salt) in base64: a well-formed key, so only the MKI makes its line unusable. */
const KEY30 = Buffer.alloc(30, 7).toString('base64');
const PCMU = ['a=rtpmap:0 PCMU/8000', 'a=sendrecv'];
const NORMAL_C = 'c=IN IP[media_ip_type] [media_ip]';

interface Attack {
  readonly name: string;
  readonly cLine: string;
  readonly media: readonly string[];
  /** What the Warning text must say (a regexp fragment, also used by the scenario's check). */
  readonly why: string;
}

const ATTACKS: readonly Attack[] = [
  {
    name: 'RTP/SAVP whose every a=crypto line is unusable (short key, bad base64, MKI length 200)',
    cLine: NORMAL_C,
    media: [
      'm=audio [media_port] RTP/SAVP 0',
      ...PCMU,
      'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUFB',
      `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${'*'.repeat(40)}`,
      `a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}|2^20|1:200`,
    ],
    why: 'm-line 0 \\(RTP/SAVP\\): no usable a=crypto line',
  },
  {
    name: '49 m=audio lines',
    cLine: NORMAL_C,
    media: Array.from({ length: 49 }, (_, i) => `m=audio ${20000 + 2 * i} RTP/AVP 0`),
    why: 'more than 5 m-lines \\(max-media-lines\\)',
  },
  {
    name: 'c=IN IP4 attacker.example.invalid (a host name, never resolved)',
    cLine: 'c=IN IP4 attacker.example.invalid',
    media: ['m=audio [media_port] RTP/AVP 0', ...PCMU],
    why: "session: c= address 'attacker\\.example\\.invalid' is not an IP4 address literal",
  },
  {
    name: 'a=ptime:18446744073709551616 (2^64)',
    cLine: NORMAL_C,
    media: ['m=audio [media_port] RTP/AVP 0', ...PCMU, 'a=ptime:18446744073709551616'],
    why: 'm-line 0: a=ptime:18446744073709551616 is not 1\\.\\.1000 ms',
  },
];

const xmlAttr = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
/** Lines of a sipp CDATA block (sipp strips the indentation). */
const lines = (ls: readonly string[]): string => ls.join('\n      ');

/** A sipp caller whose INVITE must get `code` with `header` matching `headerRegexp` (checked by sipp itself). */
async function refusedCall(
  runDir: string, name: string, b2bua: B2buaDaemon,
  o: { code: number; header: string; headerRegexp: string; cLine: string; media: readonly string[] },
): Promise<SippResult> {
  const run = await startSipp({
    name, runDir, scenario: SCENARIO, remote: b2bua.address, keys: { to_user: 'bob' }, maxSeconds: 20,
    template: { CODE: o.code, HEADER: o.header, HEADER_REGEXP: xmlAttr(o.headerRegexp), C_LINE: o.cLine, MEDIA: lines(o.media) },
  });
  return run.result();
}

/** The final response the caller received, by status code (from its message log). */
function finalResponse(caller: SippResult, code: number): string {
  const res = received(caller.messages, new RegExp(`^SIP/2\\.0 ${code} `));
  assert.equal(res.length, 1, `${caller.summary}\nexpected one ${code}, got:\n${received(caller.messages, /^SIP\/2\.0 /).join('\n---\n')}`);
  return res[0]!;
}

async function startCallee(runDir: string, name: string, scenario: string, template?: Record<string, string | number>): Promise<SippRun> {
  const callee = await startSipp({ name, runDir, scenario, template, calls: 10, concurrent: 10, maxSeconds: 100 });
  await waitForListening(callee.port, 'udp');
  return callee;
}

const readLog = (callee: SippRun): string => readIfExists(callee.files.messages);
const invitesReceived = (callee: SippRun): number => received(readLog(callee), /^INVITE /).length;

describe('security: SDP attacks through the daemon (sipp caller and callee)', function () {
  this.timeout(120_000);
  after(() => stopAllStarted());

  describe('hostile offers: 488 with Warning 399, the callee receives no INVITE', () => {
    let runDir: string;
    let b2bua: B2buaDaemon;
    let callee: SippRun;

    before(async () => {
      runDir = createRunDir('sdp-attacks');
      // The callee answers 486 if an INVITE ever reaches it, so that a relayed attack ends quickly (and visibly) for the caller.
      callee = await startCallee(runDir, 'callee', 'uas_error.xml', { CODE: 486, REASON: 'Busy Here' });
      // gstreamer does SDES on leg A: a well-formed RTP/SAVP offer is accepted (see the last test), so a 488 is the key check's.
      b2bua = await startB2bua({
        runDir, outboundProxy: `sip:127.0.0.1:${callee.port};transport=udp`, settings: { 'media-engine': 'gstreamer', 'media-workers': 1 },
      });
    });
    after(async () => {
      await callee?.process.stop(1000);
      await b2bua?.stop();
    });

    ATTACKS.forEach((attack, i) => {
      it(`${attack.name}: 488 + Warning, no INVITE to the callee`, async () => {
        const warning = `399 127\\.0\\.0\\.1:${b2bua.port} ".*${attack.why}.*"`;
        // sipp hands the header value over with the space after the colon.
        const caller = await refusedCall(runDir, `attack${i}`, b2bua, { code: 488, header: 'Warning', headerRegexp: `^ *${warning}$`, ...attack });
        assert.equal(caller.code, 0, `${caller.summary}\n${b2bua.logTail(10)}`);
        const res = finalResponse(caller, 488);
        assert.match(res, /^SIP\/2\.0 488 Not Acceptable Here/);
        assert.match(res, new RegExp(`^Warning: ${warning}\\r?$`, 'm'), res);
        assert.equal(invitesReceived(callee), 0, `the callee received an INVITE:\n${readLog(callee)}`);
        await b2bua.waitForCounters(['calls', 'dialogs', 'mediaSessions', 'mediaPorts'], 5000);
      });
    });

    it('afterwards: every live counter back to 0 (transactions after Timer I), still no INVITE at the callee', async () => {
      await b2bua.waitForCounters(LIVE_COUNTERS, 20_000);
      assert.equal(invitesReceived(callee), 0, readLog(callee));
    });

    it('control: the same RTP/SAVP offer plus one well-formed a=crypto line reaches the callee (its 486 comes back)', async () => {
      const [savp] = ATTACKS;
      const media = [...savp!.media, `a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:${KEY30}`];
      const caller = await refusedCall(runDir, 'control', b2bua, { code: 486, header: 'To', headerRegexp: ';tag=', cLine: NORMAL_C, media });
      assert.equal(caller.code, 0, `${caller.summary}\n${b2bua.logTail(10)}`);
      assert.equal(invitesReceived(callee), 1, readLog(callee));
      await b2bua.waitForCounters(['calls', 'dialogs', 'mediaSessions', 'mediaPorts'], 10_000);
    });
  });

  describe('media ports exhausted: 503 with Retry-After: 5 while a first call holds the audio-port range', () => {
    it('a second INVITE during the first call gets 503 Retry-After: 5; the first call completes; counters back to 0', async () => {
      const runDir = createRunDir('sdp-attacks-ports');
      const [low] = await freePorts(4); // even: pairs (low, low+1) and (low+2, low+3), one per leg of one call
      const callee = await startCallee(runDir, 'callee', 'uas_quick.xml');
      const b2bua = await startB2bua({
        runDir, outboundProxy: `sip:127.0.0.1:${callee.port};transport=udp`, settings: { 'audio-port': `${low}-${low! + 3}` },
      });
      try {
        const first = await startSipp({ name: 'first', runDir, scenario: 'uac_quick.xml', remote: b2bua.address, keys: { to_user: 'bob' }, pauseMs: 6000, maxSeconds: 30 });
        await first.waitForMessage(/^ACK /m, 10_000);
        const held = await b2bua.counters();
        assert.deepEqual([held.calls, held.mediaPorts], [1, 4], `the first call holds the 4 ports: ${JSON.stringify(held)}`);

        const second = await refusedCall(runDir, 'second', b2bua, {
          code: 503, header: 'Retry-After', headerRegexp: '^ *5$', cLine: NORMAL_C, media: ['m=audio [media_port] RTP/AVP 0', ...PCMU],
        });
        assert.equal(second.code, 0, `${second.summary}\n${b2bua.logTail(10)}`);
        const res = finalResponse(second, 503);
        assert.match(res, /^SIP\/2\.0 503 Service Unavailable/);
        assert.match(res, /^Retry-After: 5\r?$/m, res);
        assert.equal(invitesReceived(callee), 1, `only the first call reached the callee:\n${readLog(callee)}`);

        const firstResult = await first.result();
        assert.equal(firstResult.code, 0, `the first call was disturbed: ${firstResult.summary}`);
        await b2bua.waitForCounters(LIVE_COUNTERS, 20_000);
      } finally {
        await callee.process.stop(1000);
        await b2bua.stop();
      }
    });
  });
});

/**
 * DTLS-SRTP peer authentication (RFC 5763 section 5): the certificate a peer presents in the handshake must
 * hash to the a=fingerprint of its SDP before any of its media reaches the other leg. The DTLS peer is
 * OpenSSL's own client (`openssl s_client -dtls1_2 -use_srtp`), bound to the port its SDP announces, behind our
 * SIP caller; leg B is a plain callee. With the certificate of its SDP the association comes up; with another
 * one the daemon ends the call, logs why, counts it, and the callee gets no packet from leg A.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { plain } from '../../harness/srtp-call.js';
import { freePorts } from '../../harness/ports.js';
import { requireTools } from '../../harness/tools.js';
import { readIfExists, sleep } from '../../harness/wait.js';
import { LIVE_COUNTERS } from '../../harness/b2bua.js';
import { live, setUp, trenscrypterSuite } from './fixture.js';

interface Cert { readonly cert: string; readonly key: string; readonly fingerprint: string }

function makeCert(dir: string, name: string): Cert {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key, fingerprint: `sha-256 ${new X509Certificate(readIfExists(cert)).fingerprint256}` };
}

function dtlsOffer(port: number, fingerprint: string): string {
  return [
    'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
    `m=audio ${port} UDP/TLS/RTP/SAVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=rtcp-mux', 'a=setup:active', `a=fingerprint:${fingerprint}`, 'a=sendrecv', '',
  ].join('\r\n');
}

/** The b2bua's leg A RTP port from its answer. */
function answerPort(sdp: string): number {
  const m = /^m=audio (\d+) UDP\/TLS\/RTP\/SAVP/m.exec(sdp);
  assert.ok(m, `the answer is DTLS-SRTP: ${sdp}`);
  assert.match(sdp, /^a=setup:passive/m, 'we answered setup:passive to an active offerer (we are the DTLS server)');
  return Number(m[1]);
}

/** OpenSSL's DTLS client from `localPort` to the b2bua; its stdin stays open (no data sent) until killed. */
function dtlsClient(localPort: number, remotePort: number, cert: Cert, log: string, profile = 'SRTP_AES128_CM_SHA1_80'): { proc: ChildProcess; output: () => string } {
  let out = '';
  const proc = spawn('openssl', ['s_client', '-dtls1_2', '-use_srtp', profile, '-bind', `127.0.0.1:${localPort}`,
    '-connect', `127.0.0.1:${remotePort}`, '-cert', cert.cert, '-key', cert.key, '-no_ign_eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  live.closers.push(() => {
    proc.kill('SIGKILL');
    writeFileSync(log, out);
  });
  return { proc, output: () => out };
}

function logged(lines: Record<string, unknown>[], msg: string): Record<string, unknown>[] {
  return lines.filter((l) => l['msg'] === msg);
}

describe('trenscrypter: DTLS-SRTP peer certificate checked against its SDP fingerprint (OpenSSL s_client as the peer)', function () {
  trenscrypterSuite(this, 60000);
  before(() => requireTools(['openssl']));

  for (const matching of [true, false]) {
    it(matching
      ? 'the certificate of its SDP: the association comes up, the call stays up'
      : 'another certificate: no media to leg B, the call ends with BYE, the reason is logged and counted', async () => {
      const { b2bua, callee, caller, target } = await setUp({ name: `dtls-fp-${matching}`, callee: plain, policy: { enc: ['none', 'sip:bob@.*'] } });
      const dir = path.dirname(b2bua.logFile);
      const presented = makeCert(dir, 'peer');
      const announced = matching ? presented : makeCert(dir, 'other');
      const [port] = await freePorts(1);
      const dialog = await caller.invite(target('bob'), dtlsOffer(port!, announced.fingerprint));
      const client = dtlsClient(port!, answerPort(dialog.remoteSdp), presented, path.join(dir, 'openssl.log'));
      if (matching) {
        await b2bua.waitUntilCounters('DTLS connected', () => logged(b2bua.logLines(), 'DTLS-SRTP connected').length > 0, 10000)
          .catch(() => assert.fail(`no "DTLS-SRTP connected" in the log; openssl said: ${client.output().slice(-600)}`));
        await sleep(1000);
        assert.match(client.output(), /SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80/, 'openssl negotiated the SRTP profile');
        assert.equal(dialog.ended, false, 'the call is still up');
        const calls = await (await fetch(`http://${b2bua.adminAddress}/calls`)).json() as { media: { a: { security?: { dtls?: { fingerprintVerified: boolean } } }[] } }[];
        assert.equal(calls[0]?.media.a[0]?.security?.dtls?.fingerprintVerified, true, '/calls shows the fingerprint verified');
        await dialog.bye();
      } else {
        await dialog.waitEnded(10000);
        assert.equal(dialog.endedBy, 'remote', 'the b2bua ended the call');
        // the log file is written asynchronously: the BYE may come before the line is on disk
        await b2bua.waitUntilCounters('handshake failure logged', () => logged(b2bua.logLines(), 'media handshake failed').length > 0, 5000).catch(() => undefined);
        const failed = logged(b2bua.logLines(), 'media handshake failed');
        assert.equal(failed.length, 1, 'one handshake failure logged');
        assert.match(String(failed[0]!['reason']), new RegExp(`does not match.*${announced.fingerprint.split(' ')[1]!.slice(0, 11)}`, 'i'), 'the reason names the fingerprint');
        const counters = await b2bua.counters();
        assert.equal(counters['dtlsFailures'], 1, 'counted in /counters');
        const received = [...callee.calls.values()].reduce((n, c) => n + c.media.totalReceived(), 0);
        assert.equal(received, 0, 'the callee received nothing from leg A');
      }
      await b2bua.waitForCounters(LIVE_COUNTERS, 12000);
      await b2bua.stop();
    });
  }

  it('a NATed DTLS client (its packets from a port its SDP does not name) is answered once the handshake grace is over: the association comes up', async () => {
    const { b2bua, caller, target } = await setUp({ name: 'dtls-nat', callee: plain, policy: { enc: ['none', 'sip:bob@.*'] } });
    const dir = path.dirname(b2bua.logFile);
    const cert = makeCert(dir, 'peer');
    const [sdpPort, natPort] = await freePorts(2);
    const dialog = await caller.invite(target('bob'), dtlsOffer(sdpPort!, cert.fingerprint));
    const started = Date.now();
    const client = dtlsClient(natPort!, answerPort(dialog.remoteSdp), cert, path.join(dir, 'openssl.log'));
    await b2bua.waitUntilCounters('DTLS connected', () => logged(b2bua.logLines(), 'DTLS-SRTP connected').length > 0, 15000)
      .catch(() => assert.fail(`no "DTLS-SRTP connected" in the log; openssl said: ${client.output().slice(-600)}`));
    // the ClientHellos sent during the grace (2 s after our answer; openssl retransmits after 1 s, 2 s...) were dropped
    assert.ok(Date.now() - started >= 1900, `connected after ${Date.now() - started} ms: not before the grace`);
    assert.equal(dialog.ended, false, 'the call is still up');
    await dialog.bye();
    await b2bua.waitForCounters(LIVE_COUNTERS, 12000);
    await b2bua.stop();
  });

  const PROFILES: [string, string][] = [
    ['SRTP_AES128_CM_SHA1_32', 'AES_CM_128_HMAC_SHA1_32'], ['SRTP_AEAD_AES_128_GCM', 'AEAD_AES_128_GCM'], ['SRTP_AEAD_AES_256_GCM', 'AEAD_AES_256_GCM'],
  ];
  for (const [profile, suite] of PROFILES) {
    it(`a peer offering only ${profile} gets it: the association comes up with ${suite}`, async () => {
      const { b2bua, caller, target } = await setUp({ name: `dtls-${profile}`, callee: plain, policy: { enc: ['none', 'sip:bob@.*'] } });
      const dir = path.dirname(b2bua.logFile);
      const cert = makeCert(dir, 'peer');
      const [port] = await freePorts(1);
      const dialog = await caller.invite(target('bob'), dtlsOffer(port!, cert.fingerprint));
      const client = dtlsClient(port!, answerPort(dialog.remoteSdp), cert, path.join(dir, 'openssl.log'), profile);
      await b2bua.waitUntilCounters('DTLS connected', () => logged(b2bua.logLines(), 'DTLS-SRTP connected').length > 0, 10000)
        .catch(() => assert.fail(`no "DTLS-SRTP connected" in the log; openssl said: ${client.output().slice(-600)}`));
      assert.equal(logged(b2bua.logLines(), 'DTLS-SRTP connected')[0]!['detail'], `stream 0 rtp: ${suite}`);
      await dialog.bye();
      await b2bua.waitForCounters(LIVE_COUNTERS, 12000);
      await b2bua.stop();
    });
  }

  it('a re-INVITE with the same fingerprint keeps the association; a changed one starts a new one with the new certificate', async () => {
    const { b2bua, caller, target } = await setUp({ name: 'dtls-reinvite', callee: plain, policy: { enc: ['none', 'sip:bob@.*'] } });
    const dir = path.dirname(b2bua.logFile);
    const first = makeCert(dir, 'first');
    const second = makeCert(dir, 'second');
    const [port] = await freePorts(1);
    const connected = () => logged(b2bua.logLines(), 'DTLS-SRTP connected').length;
    const dialog = await caller.invite(target('bob'), dtlsOffer(port!, first.fingerprint));
    const ourPort = answerPort(dialog.remoteSdp);
    const one = dtlsClient(port!, ourPort, first, path.join(dir, 'openssl-1.log'));
    await b2bua.waitUntilCounters('first association up', () => connected() === 1, 10000)
      .catch(() => assert.fail(`no "DTLS-SRTP connected"; openssl said: ${one.output().slice(-600)}`));

    const same = await dialog.reinvite(dtlsOffer(port!, first.fingerprint).replace('o=- 1 1', 'o=- 1 2'));
    assert.equal(same.status, 200);
    assert.equal(answerPort(same.body), ourPort, 'same media port');
    await sleep(1500);
    assert.equal(connected(), 1, 'no new handshake for an unchanged fingerprint and setup');
    assert.equal(dialog.ended, false);

    one.proc.kill('SIGKILL');
    await sleep(200);
    const changed = await dialog.reinvite(dtlsOffer(port!, second.fingerprint).replace('o=- 1 1', 'o=- 1 3'));
    assert.equal(changed.status, 200);
    const two = dtlsClient(port!, answerPort(changed.body), second, path.join(dir, 'openssl-2.log'));
    await b2bua.waitUntilCounters('second association up', () => connected() === 2, 10000)
      .catch(() => assert.fail(`no second "DTLS-SRTP connected"; openssl said: ${two.output().slice(-600)}`));
    const calls = await (await fetch(`http://${b2bua.adminAddress}/calls`)).json() as { media: { a: { security?: { dtls?: { peerFingerprint?: string } } }[] } }[];
    assert.equal(calls[0]?.media.a[0]?.security?.dtls?.peerFingerprint?.toLowerCase(), second.fingerprint.toLowerCase(), 'the new association authenticated the new certificate');
    assert.equal((await b2bua.counters()).dtlsFailures, 0);
    await dialog.bye();
    await b2bua.waitForCounters(LIVE_COUNTERS, 12000);
    await b2bua.stop();
  });

  it('as the DTLS client (the peer answers setup:passive, openssl s_server): the association comes up and no packet goes to a default address', async () => {
    // Before the fix, a rebuilt pipeline played before its udpsinks had their destinations: the first ClientHello went
    // to udpsink's default 127.0.0.1:5004. Listen there (when free) and require silence.
    const trap = dgram.createSocket('udp4');
    const trapped: Buffer[] = [];
    const listening = await new Promise<boolean>((resolve) => {
      trap.once('error', () => resolve(false));
      trap.bind(5004, '127.0.0.1', () => resolve(true));
    });
    trap.on('message', (m) => trapped.push(m));
    live.closers.push(() => trap.close());
    const { b2bua, caller, target } = await setUp({ name: 'dtls-client', callee: plain, policy: { enc: ['none', 'sip:bob@.*'] } });
    const dir = path.dirname(b2bua.logFile);
    const cert = makeCert(dir, 'server');
    const [port] = await freePorts(1);
    const server = spawn('openssl', ['s_server', '-dtls1_2', '-use_srtp', 'SRTP_AES128_CM_SHA1_80', '-accept', `127.0.0.1:${port}`,
      '-cert', cert.cert, '-key', cert.key, '-verify', '1', '-no_ign_eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    server.stdout.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr.on('data', (d: Buffer) => (out += d.toString()));
    live.closers.push(() => {
      server.kill('SIGKILL');
      writeFileSync(path.join(dir, 'openssl-server.log'), out);
    });
    await sleep(300); // s_server bound
    const offer = dtlsOffer(port!, cert.fingerprint).replace('a=setup:active', 'a=setup:passive');
    const dialog = await caller.invite(target('bob'), offer);
    assert.match(dialog.remoteSdp, /^a=setup:active/m, 'we answered setup:active to a passive offerer (we are the DTLS client)');
    await b2bua.waitUntilCounters('DTLS connected', () => logged(b2bua.logLines(), 'DTLS-SRTP connected').length > 0, 10000)
      .catch(() => assert.fail(`no "DTLS-SRTP connected" in the log; openssl s_server said: ${out.slice(-600)}`));
    await sleep(500);
    if (listening) assert.equal(trapped.length, 0, `${trapped.length} packets reached 127.0.0.1:5004`);
    await dialog.bye();
    await b2bua.waitForCounters(LIVE_COUNTERS, 12000);
    await b2bua.stop();
  });
});

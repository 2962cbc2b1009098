/**
 * `npm start` as a newcomer runs it: after `bash scripts/setup.sh`, `node bin/b2bua-server --config
 * flexisip.conf.example` from the repo root, the file unchanged. The example listens on 127.0.0.1:6067 (UDP and TCP),
 * sends leg B to sip:127.0.0.1:5060;transport=tcp, serves its admin interface on 127.0.0.1:6068, and chooses leg B's
 * encryption by the callee's user name (zrtp / sdes / dtls in it, else none). A linphonec "callee" listens where the
 * outbound proxy points (TCP 5060; its own account is sip:callee@..., and it answers INVITEs whatever user their
 * Request-URI names: sip:bob@127.0.0.1:6067 / sip:dtls-bob@127.0.0.1:6067 here, as a proxy would forward them), and
 * a linphonec caller dials the daemon:
 *   (a) SDES caller -> sip:bob@127.0.0.1:6067 (rule `none`) -> plain callee: tone both ways, SRTP on leg A, plain RTP on leg B;
 *   (b) ZRTP caller -> sip:dtls-bob@127.0.0.1:6067 (rule `dtls-srtp`) -> DTLS-SRTP callee: ZRTP on leg A, DTLS-SRTP on leg B, SAS.
 * The ports are the example's, fixed: the suite fails at once, naming the holder, when 5060, 6067 or 6068 is taken.
 *
 *   npx tsc -p . && npx mocha --timeout 180000 test/e2e/daemon/example-config.test.ts
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRunDir, tail } from '../../harness/run-dir.js';
import { startLinphone, type Linphone, type LinphoneEncryption } from '../../harness/linphone.js';
import { encryptedCall, mediaPorts, portWire, WIRE_OF } from '../../harness/encrypted-call.js';
import { startCapture, portsFilter } from '../../harness/capture.js';
import { tcpFree, udpFree } from '../../harness/ports.js';
import { writeToneFiles } from '../../harness/tones.js';
import { requireTools } from '../../harness/tools.js';
import { REPO_ROOT, LIVE_COUNTERS, type Counters } from '../../harness/b2bua.js';
import { spawnManaged, stopAllStarted, type ManagedProcess } from '../../harness/processes.js';
import { readIfExists, StopWaiting, waitUntil } from '../../harness/wait.js';

const EXAMPLE = 'flexisip.conf.example';
/** What the example says; checked against the file in before(). */
const PORTS = { sip: 6067, proxy: 5060, admin: 6068 } as const;
const TONE = { caller: 440, callee: 880 } as const;
const CALL_SECONDS = 3;

/** Throws, naming who holds it (ss -p), when one of the example's fixed ports is taken. */
async function requireFreePorts(ports: readonly { port: number; proto: 'udp' | 'tcp'; what: string }[]): Promise<void> {
  const taken: string[] = [];
  for (const p of ports) {
    if (await (p.proto === 'udp' ? udpFree(p.port) : tcpFree(p.port))) continue;
    let holder = '';
    try {
      holder = execFileSync('ss', [p.proto === 'udp' ? '-Hlnup' : '-Hlntp', `sport = :${p.port}`], { encoding: 'utf8' }).trim();
    } catch {
      /* ss without -p rights */
    }
    taken.push(`${p.proto}/${p.port} (${p.what})${holder ? `: ${holder}` : ''}`);
  }
  if (taken.length) {
    throw new Error(`flexisip.conf.example uses fixed ports and these are taken: ${taken.join('; ')} — stop what holds them (another npm start, a SIP phone or proxy on 5060) and run again`);
  }
}

interface ExampleDaemon {
  readonly process: ManagedProcess;
  readonly logFile: string;
  counters(): Promise<Counters>;
  logLines(): Record<string, unknown>[];
}

/** Exactly what `npm start` runs after setup, from the repo root. */
async function startExample(runDir: string): Promise<ExampleDaemon> {
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist/core/cli/main.js'))) throw new Error('no build in dist/: run "npx tsc -p ." (npm start runs scripts/setup.sh, which builds) first');
  const logFile = path.join(runDir, 'b2bua.log');
  const proc = spawnManaged('b2bua-server', process.execPath, ['bin/b2bua-server', '--config', EXAMPLE], { cwd: REPO_ROOT, stdoutFile: logFile, maxMs: 170000 });
  await waitUntil('"b2bua-server ready" in the daemon log', () => {
    if (/"msg":"b2bua-server ready"/.test(readIfExists(logFile))) return true;
    if (!proc.isRunning()) throw new StopWaiting(`b2bua-server exited during start-up:\n${tail(logFile, 30)}`);
    return undefined;
  }, 20000);
  return {
    process: proc,
    logFile,
    async counters() {
      const res = await fetch(`http://127.0.0.1:${PORTS.admin}/counters`, { signal: AbortSignal.timeout(2000) });
      assert.ok(res.ok, `GET /counters: HTTP ${res.status}`);
      return (await res.json()) as Counters;
    },
    logLines: () => readIfExists(logFile).split('\n').flatMap((l) => {
      try {
        return l.trim() ? [JSON.parse(l) as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    }),
  };
}

describe(`npm start: ${EXAMPLE} unchanged, linphonec callee on the outbound proxy's TCP ${PORTS.proxy}`, function () {
  this.timeout(180000);
  let daemon: ExampleDaemon | undefined;
  let runDir = '';

  before(async function () {
    requireTools(['linphonec', 'dumpcap', 'ss']);
    const example = fs.readFileSync(path.join(REPO_ROOT, EXAMPLE), 'utf8');
    for (const line of [`transport=sip:127.0.0.1:${PORTS.sip}`, `outbound-proxy=sip:127.0.0.1:${PORTS.proxy};transport=tcp`, `admin-address=127.0.0.1:${PORTS.admin}`, 'application=trenscrypter']) {
      assert.ok(example.split('\n').includes(line), `${EXAMPLE} no longer says "${line}": update this test`);
    }
    await requireFreePorts([
      { port: PORTS.sip, proto: 'udp', what: 'the example\'s SIP transport' }, { port: PORTS.sip, proto: 'tcp', what: 'the example\'s SIP transport' },
      { port: PORTS.admin, proto: 'tcp', what: 'the example\'s admin interface' }, { port: PORTS.proxy, proto: 'tcp', what: 'the example\'s outbound proxy: our callee' },
    ]);
    runDir = createRunDir('example-config');
    daemon = await startExample(runDir);
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && daemon) console.log(`--- run dir: ${runDir}\n--- b2bua log tail (${daemon.logFile}):\n${tail(daemon.logFile, 30)}`);
  });

  after(async () => {
    try {
      if (daemon?.process.isRunning()) {
        const status = await daemon.process.stop(15000, 'SIGTERM');
        assert.equal(status.code, 0, `b2bua-server exit after SIGTERM (code ${status.code}, signal ${status.signal}):\n${tail(daemon.logFile, 20)}`);
      }
    } finally {
      await stopAllStarted();
    }
  });

  const cases = [
    { name: 'a', callerEnc: 'srtp', callee: 'bob', calleeEnc: 'none', rule: 'none' },
    { name: 'b', callerEnc: 'zrtp', callee: 'dtls-bob', calleeEnc: 'dtls', rule: 'dtls-srtp' },
  ] as const satisfies readonly { name: string; callerEnc: LinphoneEncryption; callee: string; calleeEnc: LinphoneEncryption; rule: string }[];

  for (const c of cases) {
    const what = `(${c.name}) linphonec ${c.callerEnc} caller -> sip:${c.callee}@127.0.0.1:${PORTS.sip} (rule ${c.rule}) -> linphonec ${c.calleeEnc} callee`;
    it(`${what}: tone both ways, leg A ${WIRE_OF[c.callerEnc]} and leg B ${WIRE_OF[c.calleeEnc]} on the wire`, async () => {
      const dir = path.join(runDir, c.name);
      const tones = { caller: writeToneFiles(path.join(dir, 'tones'), TONE.caller), callee: writeToneFiles(path.join(dir, 'tones'), TONE.callee) };
      await requireFreePorts([{ port: PORTS.proxy, proto: 'tcp', what: 'the example\'s outbound proxy: our callee' }]);
      const callee: Linphone = await startLinphone({ name: 'callee', runDir: dir, mediaEncryption: c.calleeEnc, autoAnswer: true, sipTcpPort: PORTS.proxy, maxSeconds: 90 });
      const caller: Linphone = await startLinphone({ name: 'caller', runDir: dir, mediaEncryption: c.callerEnc, maxSeconds: 90 });
      const cap = await startCapture(path.join(dir, 'media.pcap'), portsFilter(mediaPorts(caller, callee)), 90);
      const before = await daemon!.counters();
      const r = await encryptedCall({
        caller: { lp: caller, encryption: c.callerEnc, tone: tones.caller }, callee: { lp: callee, encryption: c.calleeEnc, tone: tones.callee },
        target: `sip:${c.callee}@127.0.0.1:${PORTS.sip}`, runDir: dir, seconds: CALL_SECONDS,
      });
      await Promise.all([caller.quit(), callee.quit()]);
      const packets = await cap.stop();
      assert.ok(r.calleeHeard >= 2, `${what}: the callee must hear the caller's ${TONE.caller} Hz: ${r.info}`);
      assert.ok(r.callerHeard >= 2, `${what}: the caller must hear the callee's ${TONE.callee} Hz: ${r.info}`);
      // the callee linphonec answered an INVITE for another user than its own (callee): see its log
      assert.match(readIfExists(callee.logFile), new RegExp(`INVITE sip:${c.callee}@`), `${what}: the callee's INVITE Request-URI`);
      for (const [leg, lp, enc, sent, received] of [['A', caller, c.callerEnc, TONE.caller, TONE.callee], ['B', callee, c.calleeEnc, TONE.callee, TONE.caller]] as const) {
        const w = portWire(packets, lp, sent, received);
        assert.equal(w.sent.protocol, WIRE_OF[enc], `${what}: leg ${leg} as sent by the ${lp.name}: ${w.sent.why}`);
        assert.equal(w.received.protocol, WIRE_OF[enc], `${what}: leg ${leg} as sent by the b2bua to the ${lp.name}: ${w.received.why}`);
      }
      let last: Counters | undefined;
      await waitUntil('the daemon\'s counters back to 0', async () => {
        last = await daemon!.counters();
        return LIVE_COUNTERS.every((k) => last![k] === 0) ? true : undefined;
      }, 12000, 100).catch((e: Error) => {
        throw new Error(`${what}: ${e.message}: ${JSON.stringify(last)}`);
      });
      assert.equal(last!.callsTotal, before.callsTotal + 1, `${what}: one more call in callsTotal`);
      const reports = daemon!.logLines().filter((l) => l['msg'] === 'media report');
      const report = reports.at(-1)?.['media'] as Record<'a' | 'b', { srtpAuthFailures?: number; security?: { zrtp?: { sas?: unknown } } }[]> | undefined;
      assert.ok(report, `${what}: a "media report" log line`);
      const failures = [...(report.a ?? []), ...(report.b ?? [])].reduce((n, s) => n + (s.srtpAuthFailures ?? 0), 0);
      assert.equal(failures, 0, `${what}: SRTP authentication failures: ${JSON.stringify(report)}`);
      if (c.callerEnc === 'zrtp') assert.equal(report.a?.[0]?.security?.zrtp?.sas, r.callerEncrypted?.authToken, `${what}: leg A SAS in the media report vs the caller's`);
    });
  }
});

/**
 * b2bua-cli against the daemon (test/harness/b2bua.ts) with real sipp peers on both legs: `calls` lists the call in
 * progress, `call <id>` shows its media report, `hangup <id>` sends BYE on both legs (both sipp scenarios complete
 * with a BYE received); `counters --json`, `workers`, an unknown id (exit 64); `trace on <file>` then a call whose
 * INVITE carries an Authorization header: the file has the messages with their Call-IDs and the digest masked.
 * Uses the built daemon and CLI (dist/): `npx tsc -p .` first.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startB2bua, REPO_ROOT, type B2buaDaemon } from '../../harness/b2bua.js';
import { stopAllStarted } from '../../harness/processes.js';
import { received, SCENARIO_DIR, startSipp, waitForListening } from '../../harness/sipp.js';
import { writeToneFiles } from '../../harness/tones.js';

const CLI = path.join(REPO_ROOT, 'bin', 'b2bua-cli');
const DIGEST_RESPONSE = '6629fae49393a05397450978507c4ef1';
const CNONCE = '0a4f113bcafe';

/** Runs bin/b2bua-cli; resolves with its exit status and output (never rejects on a non-zero status). */
function cli(pid: number, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, '-p', String(pid), ...args], { timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('b2bua-cli with a running daemon and a call in progress (sipp caller and callee)', function () {
  this.timeout(120000);
  let runDir: string;
  let daemon: B2buaDaemon | undefined;
  let calleePort = 0;

  before(async () => {
    runDir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-cli-e2e-'));
  });
  after(async () => {
    await daemon?.stop().catch(() => undefined);
    await stopAllStarted(1000);
    rmSync(runDir, { recursive: true, force: true });
  });

  it('calls lists the call, call <id> shows its media report, hangup <id> sends BYE to both legs', async () => {
    const caller440 = writeToneFiles(path.join(runDir, 'tones'), 440);
    const callee880 = writeToneFiles(path.join(runDir, 'tones'), 880);
    const callee = await startSipp({ name: 'callee', runDir, scenario: 'uas_answer.xml', pauseMs: 200, keys: { rtp: `${callee880.ulaw},-1,0` }, maxSeconds: 60 });
    await waitForListening(callee.port, 'udp');
    calleePort = callee.port;
    daemon = await startB2bua({ runDir, outboundProxy: `sip:127.0.0.1:${callee.port};transport=udp` });
    const pid = daemon.process.pid;
    const caller = await startSipp({ name: 'caller', runDir, scenario: 'uac_wait_bye.xml', remote: daemon.address,
      keys: { rtp: `${caller440.ulaw},-1,0`, to_user: 'bob' }, maxSeconds: 60 });
    await caller.waitForMessage(/^SIP\/2.0 200 /m, 15000);
    await daemon.waitUntilCounters('one call in progress', (c) => c.calls === 1, 5000);
    await new Promise((r) => setTimeout(r, 1500)); // a second and a half of RTP both ways

    const calls = await cli(pid, 'calls');
    assert.equal(calls.code, 0, calls.stderr);
    const [header, row, more] = calls.stdout.trim().split('\n');
    assert.match(header!, /^ID +STATE +FROM +TO +CALL-ID A/);
    assert.equal(more, undefined, calls.stdout);
    const callerCallId = /^Call-ID: *(\S+)/im.exec(readFileSync(caller.files.messages, 'utf8'))![1]!;
    assert.ok(row!.includes(callerCallId), `the row names leg A's Call-ID ${callerCallId}: ${row}`);
    const id = row!.split(/\s+/)[0]!;

    const details = await cli(pid, 'call', id);
    assert.equal(details.code, 0, details.stderr);
    assert.match(details.stdout, new RegExp(`^callIdA: +${callerCallId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    const streams = details.stdout.split('\n').filter((l) => /^[ab] +0 +audio /.test(l));
    assert.equal(streams.length, 2, details.stdout);
    for (const s of streams) {
      const packetsIn = Number(s.split(/\s+/)[3]);
      assert.ok(packetsIn > 20, `packets flowed on leg ${s[0]}: ${s}`);
    }
    const json = JSON.parse((await cli(pid, '--json', 'call', callerCallId)).stdout) as { id: string; media: { a: { packetsIn: number }[] } };
    assert.equal(json.id, id, 'leg A\'s Call-ID finds the call too');
    assert.ok(json.media.a[0]!.packetsIn > 20);

    const unknown = await cli(pid, 'hangup', 'no-such-call');
    assert.equal(unknown.code, 64, unknown.stdout);
    assert.match(unknown.stdout, /^Error - No call no-such-call/);

    const hangup = await cli(pid, 'hangup', id);
    assert.equal(hangup.code, 0, hangup.stdout + hangup.stderr);
    const [callerResult, calleeResult] = [await caller.result(), await callee.result()];
    assert.equal(callerResult.code, 0, `caller got BYE: ${callerResult.summary}`);
    assert.equal(calleeResult.code, 0, `callee got BYE: ${calleeResult.summary}`);
    assert.equal(received(callerResult.messages, /^BYE sip:/).length, 1, 'the caller received one BYE');
    assert.equal(received(calleeResult.messages, /^BYE sip:/).length, 1, 'the callee received one BYE');
    await daemon.waitForCounters(['calls'], 5000);
    assert.equal((await cli(pid, 'calls')).stdout.trim(), 'no call in progress');
  });

  it('counters --json parses; workers reports the media workers (none with the relay engine)', async () => {
    const pid = daemon!.process.pid;
    const counters = JSON.parse((await cli(pid, '--json', 'counters')).stdout) as { calls: number; callsTotal: number };
    assert.equal(counters.calls, 0);
    assert.equal(counters.callsTotal, 1);
    const workers = await cli(pid, 'workers');
    assert.equal(workers.code, 0, workers.stderr);
    // The harness runs media-engine=relay: media in the server process, no worker process to list.
    const health = JSON.parse((await cli(pid, '--json', 'workers')).stdout) as { ok: boolean; workers: { pid: number }[] };
    assert.deepEqual(health, { ok: true, workers: [] });
    assert.match(workers.stdout, /^no media worker process \(the media engine runs in the server process\); media ok/);
  });

  it('trace on <file>: the messages of a call with Authorization, Call-IDs, digest response masked; trace off', async () => {
    const pid = daemon!.process.pid;
    const file = path.join(runDir, 'sip-trace.log');
    const on = await cli(pid, 'trace', 'on', file);
    assert.equal(on.code, 0, on.stdout + on.stderr);
    const callee = await startSipp({ name: 'callee-auth', runDir, scenario: 'uas_quick.xml', port: calleePort, maxSeconds: 30 });
    await waitForListening(callee.port, 'udp');
    const scenario = path.join(runDir, 'uac_quick_auth.xml');
    writeFileSync(scenario, readFileSync(path.join(SCENARIO_DIR, 'uac_quick.xml'), 'utf8').replace('Subject: e2e uac_quick',
      `Subject: e2e uac_quick\n      Authorization: Digest username="alice", realm="example.org", nonce="abc", uri="sip:bob@example.org", response="${DIGEST_RESPONSE}", cnonce="${CNONCE}", nc=00000001, qop=auth`));
    const caller = await startSipp({ name: 'caller-auth', runDir, scenario, remote: daemon!.address, pauseMs: 300, keys: { to_user: 'bob' }, maxSeconds: 30 });
    const result = await caller.result();
    assert.equal(result.code, 0, result.summary);
    assert.equal((await callee.result()).code, 0);
    const callId = /^Call-ID: *(\S+)/im.exec(readFileSync(caller.files.messages, 'utf8'))![1]!;
    await daemon!.waitForCounters(['calls'], 5000);
    const off = await cli(pid, 'trace', 'off');
    assert.match(off.stdout, /^SIP trace off: .*sip-trace\.log, \d+ messages/);

    assert.ok(existsSync(file));
    const trace = readFileSync(file, 'utf8');
    assert.ok(!trace.includes(DIGEST_RESPONSE) && !trace.includes(CNONCE), 'the digest response and cnonce are not in clear');
    assert.match(trace, /Authorization: Digest username="alice".*response="\*\*\*", cnonce="\*\*\*"/);
    assert.match(trace, new RegExp(`received from udp:127\\.0\\.0\\.1:\\d+ Call-ID: ${callId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*\\nINVITE sip:`));
    assert.match(trace, /sent to udp:127\.0\.0\.1:\d+ Call-ID: \S+ .*\nINVITE sip:/, 'leg B\'s INVITE, out');
    assert.match(trace, /sent to udp:\S+ Call-ID: \S+ .*\nSIP\/2\.0 200 OK/);
    assert.match(trace, /\nBYE sip:/);
    const entries = trace.match(/^=== /gm)?.length ?? 0;
    assert.ok(entries >= 8, `${entries} messages traced`);

    // After trace off, nothing more is written.
    const size = trace.length;
    await cli(pid, 'counters');
    assert.equal(readFileSync(file, 'utf8').length, size);
  });
});

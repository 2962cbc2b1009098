/**
 * Call detail records end to end: one daemon with cdr-file set, real sipp calls placed one after the other (caller BYE,
 * callee BYE, 486, CANCEL, one still up at SIGTERM); the file then holds exactly one JSON line per placed call, matched
 * by leg A's Call-ID, with the right reason, side and times. Then a call through sip-bridge, with cdr-file empty: the
 * record is logged and names the provider and the account the call went out with.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';
import type { CallDetailRecord } from '../../../core/plugin-api/index.js';
import { startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { standardTones } from '../../harness/call-pair.js';
import { pairs, type PairSpec } from '../../harness/call-scenarios.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir } from '../../harness/run-dir.js';
import { sipMessages, startSipp, waitForListening, type SippResult } from '../../harness/sipp.js';
import { requireTools } from '../../harness/tools.js';
import { ACCOUNT_URI, ITSP_PASSWORD, startBridgeEnv, waitForRegistration } from '../sip-bridge/bridge-env.js';

/** The Call-ID of the first INVITE a sipp sent (caller) or received (callee), from its message log. */
function inviteCallId(messages: string, direction: 'sent' | 'received'): string {
  const invite = sipMessages(messages).find((m) => m.direction === direction && /^INVITE /.test(m.text))?.text ?? '';
  return /^Call-ID:\s*(\S+)/im.exec(invite)?.[1] ?? '<no INVITE>';
}

interface Placed {
  readonly name: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly callIdA: string;
  /** Leg B's Call-ID as the callee saw it. */
  readonly callIdB: string;
  readonly caller: SippResult;
}

describe('call detail records (daemon, sipp)', function () {
  this.timeout(120000);
  before(() => requireTools(['sipp', 'ss']));
  let daemon: B2buaDaemon | undefined;
  afterEach(function (this: Context) {
    if (this.currentTest?.state === 'failed' && daemon) console.log(`--- b2bua log tail (${daemon.logFile}):\n${daemon.logTail(40)}`);
  });
  after(() => stopAllStarted());

  it('cdr-file: exactly one record per placed call (caller BYE, callee BYE, 486, CANCEL, hung up at SIGTERM), matched by leg A Call-ID', async () => {
    const runDir = createRunDir('cdr-file');
    const tones = standardTones(runDir);
    const cdrFile = path.join(runDir, 'cdr.jsonl');
    const [calleePort] = await freePorts(1);
    daemon = await startB2bua({ runDir, outboundProxy: `sip:127.0.0.1:${calleePort};transport=udp`, settings: { 'cdr-file': cdrFile } });
    const b2bua = daemon;

    const place = async (name: string, spec: PairSpec): Promise<Placed> => {
      const callee = await startSipp({ ...spec.callee, name: `${name}-callee`, runDir, port: calleePort });
      await waitForListening(calleePort!, 'udp');
      const startedAt = Date.now();
      const callerRun = await startSipp({ ...spec.caller, name: `${name}-caller`, runDir, remote: b2bua.address });
      const caller = await callerRun.result();
      const calleeResult = await callee.result();
      assert.equal(caller.code, 0, `${name}: ${caller.summary}`);
      assert.equal(calleeResult.code, 0, `${name}: ${calleeResult.summary}`);
      return { name, startedAt, endedAt: Date.now(), callIdA: inviteCallId(caller.messages, 'sent'), callIdB: inviteCallId(calleeResult.messages, 'received'), caller };
    };
    const short = (spec: PairSpec, callerPauseMs?: number, calleePauseMs?: number): PairSpec => ({
      caller: { ...spec.caller, ...(callerPauseMs !== undefined ? { pauseMs: callerPauseMs } : {}) },
      callee: { ...spec.callee, ...(calleePauseMs !== undefined ? { pauseMs: calleePauseMs } : {}) },
    });
    const callerBye = await place('caller-bye', short(pairs.basic(tones), 1500, 200));
    const calleeBye = await place('callee-bye', short(pairs.calleeBye(tones), undefined, 1500));
    const busy = await place('busy', pairs.error(486, 'Busy Here'));
    const cancelled = await place('cancel', pairs.cancel());

    // A call still up when the daemon is stopped: hung up by the server, its record written before the exit.
    const callee = await startSipp({ name: 'shutdown-callee', runDir, port: calleePort, scenario: 'uas_answer.xml', pauseMs: 200, keys: { rtp: `${tones.callee.ulaw},-1,0` }, maxSeconds: 30 });
    await waitForListening(calleePort!, 'udp');
    const upStartedAt = Date.now();
    const upCaller = await startSipp({ name: 'shutdown-caller', runDir, remote: b2bua.address, scenario: 'uac_wait_bye.xml', keys: { rtp: `${tones.caller.ulaw},-1,0`, to_user: 'bob' }, maxSeconds: 30 });
    await upCaller.waitForMessage(/^SIP\/2.0 200 /m, 10000);
    await b2bua.waitUntilCounters('the call up', (c) => c.calls === 1, 5000);
    await b2bua.stop(20000);
    const up = await upCaller.result();
    const upCallee = await callee.result();
    assert.equal(up.code, 0, `the call up at SIGTERM got its BYE: ${up.summary}`);
    const shutdown: Placed = { name: 'shutdown', startedAt: upStartedAt, endedAt: Date.now(), callIdA: inviteCallId(up.messages, 'sent'), callIdB: inviteCallId(upCallee.messages, 'received'), caller: up };

    const lines = fs.readFileSync(cdrFile, 'utf8').split('\n').filter((l) => l.trim() !== '');
    const records = lines.map((l) => JSON.parse(l) as CallDetailRecord);
    const placed = [callerBye, calleeBye, busy, cancelled, shutdown];
    const info = `${cdrFile}:\n${lines.join('\n')}`;
    assert.equal(records.length, placed.length, `one record per placed call\n${info}`);
    assert.deepEqual(records.map((r) => r.legA.callId).sort(), placed.map((p) => p.callIdA).sort(), `the records are the placed calls\n${info}`);
    const recordOf = (p: Placed): CallDetailRecord => records.find((r) => r.legA.callId === p.callIdA)!;

    const expected: [Placed, { reason: string; endedBy: string; result: string; answered: boolean; minDurationMs: number }][] = [
      [callerBye, { reason: 'caller-bye', endedBy: 'caller', result: 'answered', answered: true, minDurationMs: 1200 }],
      [calleeBye, { reason: 'callee-bye', endedBy: 'callee', result: 'answered', answered: true, minDurationMs: 1200 }],
      [busy, { reason: 'rejected 486', endedBy: 'callee', result: 'rejected_4xx', answered: false, minDurationMs: 0 }],
      [cancelled, { reason: 'cancelled', endedBy: 'caller', result: 'cancelled', answered: false, minDurationMs: 0 }],
      [shutdown, { reason: 'shutdown', endedBy: 'b2bua', result: 'answered', answered: true, minDurationMs: 0 }],
    ];
    for (const [p, want] of expected) {
      const r = recordOf(p);
      const what = `${p.name}: ${JSON.stringify(r)}`;
      assert.equal(r.reason, want.reason, what);
      assert.equal(r.endedBy, want.endedBy, what);
      assert.equal(r.result, want.result, what);
      assert.equal(r.legB?.callId, p.callIdB, `leg B's Call-ID is the one the callee got; ${what}`);
      assert.notEqual(r.legB?.callId, r.legA.callId, what);
      assert.match(r.legA.from, /^sip:alice@127\.0\.0\.1/, what);
      assert.match(r.legA.to, /^sip:bob@/, what);
      assert.match(r.legB?.to ?? '', /^sip:bob@/, what);
      const [started, ended] = [Date.parse(r.startedAt), Date.parse(r.endedAt)];
      assert.ok(started >= p.startedAt - 50 && ended <= p.endedAt + 50 && started <= ended, `times within the test's own (${p.startedAt}..${p.endedAt}); ${what}`);
      if (want.answered) {
        const answered = Date.parse(r.answeredAt ?? '');
        assert.ok(answered >= started && answered <= ended, `answeredAt between start and end; ${what}`);
        assert.equal(r.durationMs, ended - answered, what);
        assert.ok(r.durationMs >= want.minDurationMs, `duration ${r.durationMs} ms >= ${want.minDurationMs}; ${what}`);
        assert.ok(r.media && 'a' in r.media && 'b' in r.media, `media report per leg; ${what}`);
      } else {
        assert.equal(r.answeredAt, undefined, what);
        assert.equal(r.durationMs, 0, what);
      }
      assert.deepEqual(r.decision, { legBEncryption: 'none' }, `trenscrypter's decision; ${what}`);
    }
    assert.equal(daemon.logLines().filter((l) => l['msg'] === 'call detail record').length, 0, 'with cdr-file set, the records are not logged');
  });

  it('sip-bridge, cdr-file empty: the record is logged (info, field cdr) with the provider and the account the call went out with', async () => {
    const env = await startBridgeEnv({ runDir: createRunDir('cdr-sip-bridge'), accountSecret: ITSP_PASSWORD, itspCalls: 3, maxSeconds: 60 });
    daemon = env.b2bua;
    await waitForRegistration(env.b2bua, 'registered', 10000);
    const caller = await startSipp({
      name: 'caller', runDir: env.runDir, scenario: 'uac_call.xml', remote: env.b2bua.address,
      pauseMs: 1000, keys: { rtp: `${env.tones.caller.ulaw},-1,0`, to_user: '+33123456789' }, maxSeconds: 20,
    });
    const rc = await caller.result();
    assert.equal(rc.code, 0, rc.summary);
    await env.b2bua.waitForCounters(['calls'], 10000);
    const logged = env.b2bua.logLines().filter((l) => l['msg'] === 'call detail record');
    assert.equal(logged.length, 1, `one record logged:\n${env.b2bua.logTail(30)}`);
    assert.equal(logged[0]!['level'], 30, 'info level');
    const r = logged[0]!['cdr'] as CallDetailRecord;
    assert.equal(r.legA.callId, inviteCallId(rc.messages, 'sent'), JSON.stringify(r));
    assert.deepEqual(r.decision, { provider: 'ITSP', account: ACCOUNT_URI }, JSON.stringify(r));
    assert.equal(r.reason, 'caller-bye', JSON.stringify(r));
    assert.match(r.legB?.requestUri ?? '', /^sip:\+33123456789@itsp\.example\.net/, JSON.stringify(r));
    await env.b2bua.stop(20000);
  });
});

/**
 * hooks.callRecord on a real server (loopback UDP, a raw SIP peer): a plugin tap gets the record with what the
 * application annotated; a tap that throws is logged and neither the other taps nor the call's end are affected.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createB2buaServer } from '../../../core/b2bua/index.js';
import { createLogger } from '../../../core/log/index.js';
import { createHooks, rejectCall, type CallDetailRecord } from '../../../core/plugin-api/index.js';
import { closedAfterEach, noMedia, rawInvite, testConfig, token, udpPeer } from '../b2bua/helpers.js';

async function until<T>(what: string, get: () => T | undefined, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('hooks.callRecord', function () {
  this.timeout(10000);
  const { open, peers } = closedAfterEach();

  it('a plugin tap receives the record (with the decision annotated); a tap that throws is logged and breaks nothing; one record and one onCallEnded per call', async () => {
    const logLines: Record<string, unknown>[] = [];
    const destination = new Writable({ write(chunk: Buffer, _enc, done) { logLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done(); } });
    const hooks = createHooks();
    const records: CallDetailRecord[] = [];
    const ended: string[] = [];
    hooks.incomingCall.tapPromise('app', async (call) => {
      call.annotate('route', 'none for bob');
      call.annotate('attempt', 1);
      rejectCall(403, 'Forbidden');
    });
    hooks.callEnded.tap('app', ({ reason }) => { ended.push(reason); });
    hooks.callRecord.tap('broken', () => { throw new Error('billing database down'); });
    hooks.callRecord.tap('billing', (record) => { records.push(record); });
    const server = createB2buaServer({ config: testConfig(), hooks, log: createLogger({ level: 'info', destination }), media: noMedia, version: '9.9.9' });
    open.push(server);
    const results: string[] = [];
    server.onCallEnded((e) => results.push(e.result));
    const { transports } = await server.start();
    const peer = await udpPeer(Number(/:(\d+);/.exec(transports[0]!)![1]));
    peers.push(peer);
    const callId = token();
    peer.send(rawInvite(peer.port, { callId }));
    assert.match(await peer.expect(/^SIP\/2\.0 [3-6]\d\d/), /^SIP\/2\.0 403 Forbidden/);

    const record = await until('the record', () => records[0]);
    assert.equal(records.length, 1);
    assert.equal(record.legA.callId, callId);
    assert.equal(record.legA.from, 'sip:alice@127.0.0.1');
    assert.equal(record.reason, 'rejected 403');
    assert.equal(record.result, 'rejected_4xx');
    assert.equal(record.endedBy, 'b2bua', 'refused by a hook, not by the callee');
    assert.equal(record.legB, undefined, 'leg B never sent');
    assert.deepEqual(record.decision, { route: 'none for bob', attempt: 1 });
    assert.deepEqual(ended, ['rejected 403'], 'callEnded ran');
    const threw = await until('the log line of the broken tap', () => logLines.find((l) => l['tap'] === 'broken'));
    assert.equal(threw['level'], 50);
    assert.match(String(threw['msg']), /a callRecord tap threw/);
    assert.match(String(threw['err']), /billing database down/);
    assert.equal(server.counters().calls, 0, 'the call is gone');
    // the server goes on: the next call gets its record too
    peer.send(rawInvite(peer.port));
    await peer.expect(/^SIP\/2\.0 403/);
    await until('the second record', () => records[1]);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(records.length, 2);
    assert.deepEqual(results, ['rejected_4xx', 'rejected_4xx'], 'server.onCallEnded (the calls-ended metric) once per call, as the record');
  });
});

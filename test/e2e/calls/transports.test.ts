/** Transport bridging: UDP in / TCP out and TCP in / UDP out, with media checked at both far sides. */
import assert from 'node:assert/strict';
import { pairs } from '../../harness/call-scenarios.js';
import { assertCleanAndStop, assertExitCodes, callSuite, callThrough, mediaAtPeers } from './fixture.js';

describe('calls through the b2bua: transports', function () {
  callSuite(this);

  for (const [inbound, outbound] of [['udp', 'tcp'], ['tcp', 'udp']] as const) {
    it(`${inbound.toUpperCase()} in, ${outbound.toUpperCase()} out`, async () => {
      const r = await callThrough(`${inbound}-in-${outbound}-out`, (t) => {
        const p = pairs.basic(t);
        return { caller: { ...p.caller, transport: inbound }, callee: { ...p.callee, transport: outbound } };
      }, { transport: inbound, capture: true });
      assertExitCodes(r);
      const sipToCallee = r.packets.filter((p) => p.dstPort === r.calleeRun.port && /^INVITE /.test(p.payload.toString('latin1')));
      assert.ok(sipToCallee.length >= 1 && sipToCallee.every((p) => p.protocol === outbound), `leg B INVITE over ${outbound}: ${sipToCallee.map((p) => p.protocol).join(',')}\n${r.report}`);
      const sipFromCaller = r.packets.filter((p) => p.srcPort === r.callerRun.port && /^INVITE /.test(p.payload.toString('latin1')));
      assert.ok(sipFromCaller.length >= 1 && sipFromCaller.every((p) => p.protocol === inbound), `leg A INVITE over ${inbound}\n${r.report}`);
      const m = mediaAtPeers(r);
      assert.ok(m.atCallee440 >= 2 && m.atCaller880 >= 2, `tones at callee ${m.atCallee440} s / caller ${m.atCaller880} s\n${r.report}\n${m.flows}`);
      await assertCleanAndStop(r.b2bua);
    });
  }
});

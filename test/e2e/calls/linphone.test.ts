/** linphonec -> b2bua -> linphonec, no encryption: each side records the other's tone. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRunDir } from '../../harness/run-dir.js';
import { callAndRecord, startLinphone } from '../../harness/linphone.js';
import { writeToneFiles } from '../../harness/tones.js';
import { startB2bua } from '../../harness/b2bua.js';
import { current } from '../../harness/call-pair.js';
import { requireTools } from '../../harness/tools.js';
import { assertCleanAndStop, callSuite } from './fixture.js';

describe('calls through the b2bua: linphonec', function () {
  callSuite(this, 60000);
  before(() => requireTools(['linphonec']));

  for (const [callerName, calleeName] of [['alice', 'bob'], ['bob', 'alice']] as const) {
    it(`linphonec ${callerName} -> b2bua -> linphonec ${calleeName} (no encryption): audio heard both ways`, async () => {
      const run = createRunDir(`linphone-${callerName}-via-b2bua`);
      Object.assign(current, { runDir: run, runs: [], b2bua: undefined });
      const caller = await startLinphone({ name: callerName, runDir: run });
      const callee = await startLinphone({ name: calleeName, runDir: run, autoAnswer: true });
      const b2bua = await startB2bua({ runDir: run, outboundProxy: `sip:127.0.0.1:${callee.sipPort};transport=udp` });
      current.b2bua = b2bua;
      const audio = await callAndRecord({
        caller, callee, target: `sip:${calleeName}@${b2bua.address}`, runDir: run, seconds: 3.5,
        callerTone: writeToneFiles(path.join(run, 'tones'), 440), calleeTone: writeToneFiles(path.join(run, 'tones'), 880),
      });
      assert.ok(audio.calleeHeard >= 2, audio.info);
      assert.ok(audio.callerHeard >= 2, audio.info);
      assert.ok(audio.calleeHeardItself < 0.5, `the callee must not hear its own tone: ${audio.info}`);
      await assertCleanAndStop(b2bua);
    });
  }
});

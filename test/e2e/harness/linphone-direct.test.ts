/**
 * Harness self-test: linphonec alice calls linphonec bob directly (no b2bua), no encryption.
 * Proves the linphonec driver (FIFO stdin, files soundcard, play/record) and the WAV tone check.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRunDir } from '../../harness/run-dir.js';
import { callAndRecord, startLinphone } from '../../harness/linphone.js';
import { writeToneFiles } from '../../harness/tones.js';
import { stopAllStarted } from '../../harness/processes.js';
import { requireTools } from '../../harness/tools.js';

describe('harness self-test: linphonec <-> linphonec directly', function () {
  this.timeout(60000);
  before(() => requireTools(['linphonec', 'ss']));
  after(() => stopAllStarted());

  it('each side records the tone the other side plays', async () => {
    const run = createRunDir('harness-linphone-direct');
    const alice = await startLinphone({ name: 'alice', runDir: run });
    const bob = await startLinphone({ name: 'bob', runDir: run, autoAnswer: true });
    const audio = await callAndRecord({
      caller: alice, callee: bob, target: bob.uri, runDir: run, seconds: 3,
      callerTone: writeToneFiles(path.join(run, 'tones'), 440), calleeTone: writeToneFiles(path.join(run, 'tones'), 880),
    });
    assert.ok(audio.calleeHeard >= 2, audio.info);
    assert.ok(audio.callerHeard >= 2, audio.info);
    assert.ok(audio.calleeHeardItself < 0.5, `bob must not hear his own tone: ${audio.info}`);
  });
});

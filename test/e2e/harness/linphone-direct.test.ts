/**
 * Harness self-test: linphonec alice calls linphonec bob directly (no b2bua), no encryption.
 * Proves the linphonec driver (FIFO stdin, files soundcard, play/record) and the WAV tone check.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRunDir } from '../../harness/run-dir.js';
import { startLinphone, setMedia, type Linphone } from '../../harness/linphone.js';
import { writeToneFiles } from '../../harness/tones.js';
import { readWav } from '../../harness/wav.js';
import { toneSeconds } from '../../harness/goertzel.js';
import { stopAllStarted } from '../../harness/processes.js';
import { requireTools } from '../../harness/tools.js';
import { sleep } from '../../harness/wait.js';

describe('harness self-test: linphonec <-> linphonec directly', function () {
  this.timeout(60000);
  const peers: Linphone[] = [];
  before(() => requireTools(['linphonec', 'ss']));
  after(async () => {
    await Promise.all(peers.map((p) => p.quit()));
    await stopAllStarted();
  });

  it('each side records the tone the other side plays', async () => {
    const run = createRunDir('harness-linphone-direct');
    const t440 = writeToneFiles(path.join(run, 'tones'), 440);
    const t880 = writeToneFiles(path.join(run, 'tones'), 880);
    const alice = await startLinphone({ name: 'alice', runDir: run });
    const bob = await startLinphone({ name: 'bob', runDir: run, autoAnswer: true });
    peers.push(alice, bob);
    setMedia(alice, t440.wav, path.join(run, 'alice.rec.wav'));
    setMedia(bob, t880.wav, path.join(run, 'bob.rec.wav'));
    await sleep(300);
    alice.command(`call ${bob.uri}`);
    await alice.waitForOutput(/Media streams established/, 15000);
    await sleep(3000);
    alice.command('terminate');
    await alice.waitForOutput(/[Cc]all \d+.*ended|Call ended/, 5000);
    await bob.waitForOutput(/ended/, 5000);
    await Promise.all([alice.quit(), bob.quit()]);

    const atBob = readWav(path.join(run, 'bob.rec.wav'));
    const atAlice = readWav(path.join(run, 'alice.rec.wav'));
    const bob440 = toneSeconds(atBob.samples, atBob.sampleRate, 440);
    const alice880 = toneSeconds(atAlice.samples, atAlice.sampleRate, 880);
    const info = `bob heard ${bob440} s of 440 Hz, alice heard ${alice880} s of 880 Hz (run dir ${run})`;
    assert.ok(bob440 >= 2, info);
    assert.ok(alice880 >= 2, info);
    assert.ok(toneSeconds(atBob.samples, atBob.sampleRate, 880) < 0.5, `bob must not hear his own tone: ${info}`);
  });
});

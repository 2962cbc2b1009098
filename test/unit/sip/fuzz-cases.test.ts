/**
 * The mutation fuzzer's cases (test/fuzz/mutate.ts) in process, no network: reproducible from (seed, index),
 * every mutation in use, and neither the SIP parser nor the SDP checks throw on 5,000 of them
 * (the daemon-level run is test/e2e/security/fuzz.test.ts).
 */
import assert from 'node:assert/strict';
import { fuzzCase, MUTATION_NAMES, SEED_NAMES, type Peer } from '../../fuzz/mutate.js';
import { parseMessage } from '../../../core/sip/message.js';
import { readPeerSdp } from '../../../core/sdp/validate.js';

const peer: Peer = { local: '127.0.0.1:5099', server: '127.0.0.1:5060', transport: 'UDP' };

describe('fuzz cases (test/fuzz/mutate.ts)', () => {
  it('a case is a pure function of (seed, index): same bytes twice, other bytes for another index or seed', () => {
    for (const i of [0, 1, 999, 99_999]) {
      assert.deepEqual(fuzzCase(7, i, peer).bytes, fuzzCase(7, i, peer).bytes);
      assert.notDeepEqual(fuzzCase(7, i, peer).bytes, fuzzCase(7, i + 1, peer).bytes);
      assert.notDeepEqual(fuzzCase(7, i, peer).bytes, fuzzCase(8, i, peer).bytes);
    }
  });

  it('2,000 cases use every seed message and every mutation', () => {
    const bases = new Set<string>();
    const mutations = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const c = fuzzCase(1, i, peer);
      bases.add(c.base);
      c.mutations.forEach((m) => mutations.add(m));
    }
    assert.deepEqual([...bases].sort(), [...SEED_NAMES].sort());
    assert.deepEqual([...mutations].sort(), [...MUTATION_NAMES].sort());
  });

  it('parseMessage and readPeerSdp never throw on 5,000 cases (seed 1), and some cases still parse', function () {
    this.timeout(30000);
    let parsed = 0;
    for (let i = 0; i < 5000; i++) {
      const c = fuzzCase(1, i, peer);
      const where = `case (1, ${i}) ${c.base} ${c.mutations.join('+')}`;
      let r: ReturnType<typeof parseMessage> | undefined;
      assert.doesNotThrow(() => { r = parseMessage(c.bytes); }, where);
      if (!r?.ok) continue;
      parsed++;
      const body = r.message.body;
      if (body) assert.doesNotThrow(() => readPeerSdp(body, { maxMediaLines: 5 }), where);
    }
    assert.ok(parsed > 500 && parsed < 5000, `${parsed} of 5,000 cases parsed: the mutations should leave some messages valid, not all`);
  });
});

/** Pooled random identifiers (core/sip/random-pool.ts): right length, distinct, across refills of the pool. */
import { strict as assert } from 'node:assert';
import { RandomPool } from '../../../core/sip/random-pool.js';
import { newBranch, randomToken } from '../../../core/sip/message.js';

describe('core/sip: pooled random identifiers', () => {
  it('gives tokens of the asked length (base64url of N bytes), all distinct over many pool refills', () => {
    const pool = new RandomPool(64);
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const bytes = [8, 12, 16][i % 3]!;
      const t = pool.token(bytes);
      assert.match(t, /^[A-Za-z0-9_-]+$/);
      assert.equal(Buffer.from(t, 'base64url').length, bytes);
      seen.add(t);
    }
    assert.equal(seen.size, 20_000);
  });

  it('does not hand out the same bytes twice: consecutive tokens are not slices of one another', () => {
    const pool = new RandomPool(32);
    const a = Buffer.from(pool.token(16), 'base64url');
    const b = Buffer.from(pool.token(16), 'base64url');
    const c = Buffer.from(pool.token(16), 'base64url'); // after a refill
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(b, c);
    assert.notDeepEqual(a, c);
  });

  it('refuses a token longer than the pool', () => {
    assert.throws(() => new RandomPool(16).token(17), RangeError);
  });

  it('keeps the identifiers of the stack: branch z9hG4bK + 12 bytes, tags 8 bytes (64 bits), Call-IDs 16', () => {
    assert.match(newBranch(), /^z9hG4bK[A-Za-z0-9_-]{16}$/);
    assert.equal(Buffer.from(randomToken(8), 'base64url').length, 8);
    assert.equal(Buffer.from(randomToken(16), 'base64url').length, 16);
    assert.equal(new Set(Array.from({ length: 5000 }, () => newBranch())).size, 5000);
  });
});

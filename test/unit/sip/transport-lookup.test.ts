/** The UDP transport's lookup (core/sip/transport.ts): IP literals answered at once, names through dns.lookup. */
import { strict as assert } from 'node:assert';
import { literalFirstLookup } from '../../../core/sip/transport.js';

describe('core/sip transport: literalFirstLookup', () => {
  for (const [host, family] of [['127.0.0.1', 4], ['::1', 6], ['192.0.2.7', 4]] as const) {
    it(`answers ${host} synchronously, family ${family}`, () => {
      let got: [NodeJS.ErrnoException | null, string, number] | undefined;
      literalFirstLookup(host, 4, (...a) => { got = a; });
      assert.deepEqual(got, [null, host, family]);
    });
  }

  it('resolves a name through dns.lookup (asynchronously)', async () => {
    let sync = true;
    const r = await new Promise<[NodeJS.ErrnoException | null, string, number]>((resolve) => {
      literalFirstLookup('localhost', 4, (...a) => resolve(a));
      sync = false;
    });
    assert.equal(sync, false);
    assert.equal(r[0], null);
    assert.equal(r[1], '127.0.0.1');
    assert.equal(r[2], 4);
  });
});

import assert from 'node:assert/strict';
import { satisfies } from '../../../core/plugin-host/index.js';

describe('hostApi semver ranges', () => {
  const cases: [string, string, boolean][] = [
    ['1.0.0', '^1.0.0', true], ['1.4.2', '^1.0.0', true], ['2.0.0', '^1.0.0', false], ['0.9.9', '^1.0.0', false],
    ['0.2.5', '^0.2.0', true], ['0.3.0', '^0.2.0', false],
    ['1.2.9', '~1.2.0', true], ['1.3.0', '~1.2.0', false],
    ['1.0.0', '>=1.0.0', true], ['0.9.0', '>=1.0.0', false], ['1.5.0', '>=1.0.0 <2.0.0', true], ['2.0.0', '>=1.0.0 <2.0.0', false],
    ['1.0.0', '1.x', true], ['1.9.3', '1', true], ['2.0.0', '1.x', false], ['1.0.7', '1.0.*', true], ['1.1.0', '1.0.x', false],
    ['3.1.0', '*', true], ['1.0.0', '1.0.0', true], ['1.0.1', '1.0.0', false],
    ['2.1.0', '^1.0.0 || ^2.0.0', true], ['3.0.0', '^1.0.0 || ^2.0.0', false],
    ['1.5.0', '1.0.0 - 2.0.0', true], ['2.0.1', '1.0.0 - 2.0.0', false], ['1.9.0', '<=1.x', true], ['2.0.0', '>1', true], ['1.9.9', '>1', false],
  ];
  for (const [version, range, expected] of cases) {
    it(`${version} ${expected ? 'satisfies' : 'does not satisfy'} "${range}"`, () => assert.equal(satisfies(version, range), expected));
  }
  it('reports ranges it does not understand as undefined', () => {
    assert.equal(satisfies('1.0.0', 'latest'), undefined);
    assert.equal(satisfies('1.0.0', '^one'), undefined);
  });
});

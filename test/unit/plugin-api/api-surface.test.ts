import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HOST_API_VERSION } from '../../../core/plugin-api/index.js';
import { SNAPSHOT, UPDATE_COMMAND, apiSurface } from './api-surface.js';

/** The lines only one side has, in order: enough to see what changed. */
function lineDiff(before: string, after: string): string {
  const a = before.split('\n');
  const b = after.split('\n');
  const removed = a.filter((l) => !b.includes(l)).map((l) => `- ${l}`);
  const added = b.filter((l) => !a.includes(l)).map((l) => `+ ${l}`);
  return [...removed, ...added].slice(0, 40).join('\n');
}

describe('plugin API surface (b2bua-server/plugin-api)', function () {
  this.timeout(60000);

  it('is the committed snapshot', () => {
    const snapshot = readFileSync(SNAPSHOT, 'utf8');
    const current = apiSurface();
    assert.ok(current === snapshot,
      'The public API of b2bua-server/plugin-api (core/plugin-api/index.ts and the declarations it reaches) changed:\n' +
      `${lineDiff(snapshot, current)}\n` +
      `If the change is intended, update the snapshot with \`${UPDATE_COMMAND}\` and bump HOST_API_VERSION ` +
      `(now ${HOST_API_VERSION}) in core/plugin-api/index.ts: minor for additions, major for breaking changes (see core/plugin-api/README.md).`);
  });

  it('records HOST_API_VERSION, so a bump shows in the snapshot', () => {
    assert.ok(readFileSync(SNAPSHOT, 'utf8').includes(`export declare const HOST_API_VERSION = "${HOST_API_VERSION}";`));
  });
});

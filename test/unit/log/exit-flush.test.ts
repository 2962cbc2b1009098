/**
 * The daemon's log destination is asynchronous and batched (core/log): a child process logs then leaves the way
 * bin/b2bua-server does (process.exit), and every line must be on its standard output.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LOG_MODULE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../core/log/index.ts');
const LINES = 3000;

function child(exit: string, count = LINES): { lines: string[]; status: number | null } {
  const script = `
    const { createLogger } = await import(${JSON.stringify(LOG_MODULE)});
    const log = createLogger({ level: 'info' });
    for (let i = 0; i < ${count}; i++) log.info({ i, pad: 'x'.repeat(200) }, 'line');
    log.info('b2bua-server stopped');
    ${exit}
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, maxBuffer: 64 << 20 });
  return { lines: r.stdout.split('\n').filter((l) => l), status: r.status };
}

describe('core/log: the batched stdout destination at exit', function () {
  this.timeout(30_000);

  for (const [name, exit] of [['process.exit(0)', 'process.exit(0);'], ['process.exit from a timer (bin/b2bua-server)', 'setTimeout(() => process.exit(3), 1);']] as const) {
    it(`loses no line on ${name}`, () => {
      const { lines, status } = child(exit);
      assert.equal(status, exit.includes('3') ? 3 : 0);
      assert.equal(lines.length, LINES + 1);
      const parsed = lines.map((l) => JSON.parse(l) as { i?: number; msg: string });
      assert.deepEqual(parsed.slice(0, LINES).map((p) => p.i), [...Array(LINES).keys()]);
      assert.equal(parsed[LINES]!.msg, 'b2bua-server stopped');
    });
  }

  it('writes a line within ~100 ms while the process runs on (no exit, batch not full)', () => {
    const { lines } = child('await new Promise((r) => setTimeout(r, 300)); process.kill(process.pid, \'SIGKILL\');', 3); // no 'exit' event
    assert.equal(lines.length, 4);
  });
});

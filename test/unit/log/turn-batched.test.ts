/**
 * The daemon's standard-output log is written once per event-loop iteration (core/log): a child process logs and leaves
 * the ways bin/b2bua-server can (process.exit now or from a timer), or is killed in the same loop iteration: every line
 * must be on its standard output, in order; the lines of one iteration leave in one write.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LOG_MODULE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../core/log/index.ts');
const LINES = 3000;

function child(body: string): { lines: string[]; status: number | null; signal: NodeJS.Signals | null } {
  const script = `const { createLogger } = await import(${JSON.stringify(LOG_MODULE)});\nconst log = createLogger({ level: 'info' });\n${body}`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, maxBuffer: 64 << 20 });
  return { lines: r.stdout.split('\n').filter((l) => l), status: r.status, signal: r.signal };
}

const logMany = `for (let i = 0; i < ${LINES}; i++) log.info({ i, pad: 'x'.repeat(200) }, 'line');\nlog.info('b2bua-server stopped');`;

describe('core/log: standard output written once per event-loop iteration', function () {
  this.timeout(30_000);

  for (const [name, exit, code] of [['process.exit(0) in the same iteration', 'process.exit(0);', 0], ['process.exit from a timer (bin/b2bua-server)', 'setTimeout(() => process.exit(3), 1);', 3]] as const) {
    it(`loses no line on ${name}`, () => {
      const { lines, status } = child(`${logMany}\n${exit}`);
      assert.equal(status, code);
      assert.equal(lines.length, LINES + 1);
      const parsed = lines.map((l) => JSON.parse(l) as { i?: number; msg: string });
      assert.deepEqual(parsed.slice(0, LINES).map((p) => p.i), [...Array(LINES).keys()]);
      assert.equal(parsed[LINES]!.msg, 'b2bua-server stopped');
    });
  }

  it('lines are written in the iteration that logged them (SIGKILL right after: no exit handler, nothing lost)', () => {
    const { lines, signal } = child('log.info(\'one\'); log.info(\'two\');\nsetImmediate(() => process.kill(process.pid, \'SIGKILL\'));');
    assert.equal(signal, 'SIGKILL');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { msg: string }).msg), ['one', 'two']);
  });

  it('lines of one iteration leave in one write(2)', () => {
    // strace is not everywhere: count writes to fd 1 by wrapping fs.writeSync, which sonic-boom's sync mode uses
    const { lines } = child(`const fs = (await import('node:fs')).default; let writes = 0; const w = fs.writeSync;
      fs.writeSync = (...a) => { if (a[0] === 1) writes++; return w(...a); };
      for (let i = 0; i < 50; i++) log.info({ i }, 'line');
      setTimeout(() => { process.stderr.write(''); log.info({ writes }, 'count'); }, 20);`);
    const count = lines.map((l) => JSON.parse(l) as { msg: string; writes?: number }).find((p) => p.msg === 'count');
    assert.equal(lines.length, 51);
    assert.equal(count?.writes, 1, `50 lines in one iteration: ${count?.writes} writes`);
  });
});

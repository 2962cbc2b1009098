/** Per-test run directories outside the repo: ${TMPDIR:-/tmp}/b2bua-e2e/<test>-<timestamp>. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function e2eRoot(): string {
  return path.join(process.env['TMPDIR'] ?? os.tmpdir(), 'b2bua-e2e');
}

export function createRunDir(testName: string): string {
  const safe = testName.replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 60);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  const dir = path.join(e2eRoot(), `${safe}-${stamp}-${process.pid}-${Math.floor(Math.random() * 1e6)}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** The last `lines` lines of a text file ('' if absent), for failure reports. */
export function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}

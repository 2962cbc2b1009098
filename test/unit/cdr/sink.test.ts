import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cdrFileProblem, createCdrSink } from '../../../core/cdr/sink.js';
import type { CallDetailRecord } from '../../../core/plugin-api/index.js';
import type { Logger } from '../../../core/vocabulary/index.js';

function record(n: number): CallDetailRecord {
  return {
    id: `c${n}`, legA: { callId: `call-${n}`, from: 'sip:a@x', to: 'sip:b@x' }, startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:00:01.000Z', durationMs: 0, reason: 'cancelled', result: 'cancelled', endedBy: 'caller', decision: {},
  };
}

/** A logger keeping (level, fields, message) of what it is given. */
function recordingLog(): Logger & { lines: [string, Record<string, unknown>, string][] } {
  const lines: [string, Record<string, unknown>, string][] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => { lines.push([level, fields, msg]); };
  const log = { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug'), child: () => log };
  return log;
}

const ids = (file: string): string[] => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as CallDetailRecord).legA.callId);

describe('call detail records: sink', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdr-sink-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('no file: one info line per record, field cdr', async () => {
    const log = recordingLog();
    const sink = createCdrSink({ file: '', maxSize: 0, keep: 0 }, log);
    sink.write(record(1));
    await sink.close();
    assert.deepEqual(log.lines, [['info', { cdr: record(1) }, 'call detail record']]);
  });

  it('a file: one JSON object per line, appended to what is there, all in it once close() resolves', async () => {
    const file = path.join(dir, 'cdr.jsonl');
    fs.writeFileSync(file, `${JSON.stringify(record(0))}\n`);
    const sink = createCdrSink({ file, maxSize: 0, keep: 5 }, recordingLog());
    for (let i = 1; i <= 200; i++) sink.write(record(i));
    await sink.close();
    assert.deepEqual(ids(file), Array.from({ length: 201 }, (_, i) => `call-${i}`));
  });

  it('rotation by size: <file>.1 .. .<keep>, the oldest dropped, no record lost or repeated among the files kept', async () => {
    const file = path.join(dir, 'cdr.jsonl');
    const lineBytes = Buffer.byteLength(`${JSON.stringify(record(10))}\n`);
    const sink = createCdrSink({ file, maxSize: lineBytes * 3, keep: 2 }, recordingLog());
    // 10..21: 12 records of the same size, 3 a file; written in bursts so that some arrive while a rotation runs
    for (let i = 10; i < 22; i++) {
      sink.write(record(i));
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await sink.close();
    const files = fs.readdirSync(dir).sort();
    assert.deepEqual(files, ['cdr.jsonl', 'cdr.jsonl.1', 'cdr.jsonl.2'], 'keep=2: two rotated files');
    for (const f of files) assert.ok(fs.statSync(path.join(dir, f)).size <= lineBytes * 3, `${f} holds at most max-size`);
    const kept = [...ids(`${file}.2`), ...ids(`${file}.1`), ...ids(file)];
    assert.deepEqual(kept, Array.from({ length: 9 }, (_, i) => `call-${13 + i}`), 'the last 9 records, oldest first, across the files');
  });

  it('keep=0: the file starts over once full', async () => {
    const file = path.join(dir, 'cdr.jsonl');
    const lineBytes = Buffer.byteLength(`${JSON.stringify(record(1))}\n`);
    const sink = createCdrSink({ file, maxSize: lineBytes * 2, keep: 0 }, recordingLog());
    for (let i = 1; i <= 5; i++) sink.write(record(i));
    await sink.close();
    assert.deepEqual(fs.readdirSync(dir), ['cdr.jsonl']);
    assert.deepEqual(ids(file), ['call-5']);
  });

  it('a write error is logged once; the records then go to the log, close() still resolves', async () => {
    const file = path.join(dir, 'gone', 'cdr.jsonl'); // its folder does not exist: the stream fails
    const log = recordingLog();
    const sink = createCdrSink({ file, maxSize: 0, keep: 1 }, log);
    sink.write(record(1));
    await new Promise((r) => setTimeout(r, 50));
    sink.write(record(2));
    sink.write(record(3));
    await sink.close();
    const errors = log.lines.filter(([level]) => level === 'error');
    assert.equal(errors.length, 1, JSON.stringify(log.lines));
    assert.match(errors[0]![2], /cannot write the file/);
    assert.deepEqual(log.lines.filter(([, , msg]) => msg === 'call detail record').map(([, f]) => (f['cdr'] as CallDetailRecord).id), ['c2', 'c3']);
  });

  it('cdrFileProblem: a missing or read-only folder is a problem, a writable one is not', () => {
    assert.equal(cdrFileProblem(path.join(dir, 'cdr.jsonl')), undefined);
    assert.match(cdrFileProblem(path.join(dir, 'nope', 'cdr.jsonl')) ?? '', /cannot write ".*nope\/cdr\.jsonl" \(ENOENT\)/);
  });
});

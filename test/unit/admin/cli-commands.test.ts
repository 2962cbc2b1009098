/**
 * The operations commands of the CLI socket (core/admin/cli-commands.ts) through answerCliCommand, with a stub server:
 * the texts for a person, the JSON for `--json`, `Error - ...` answers; and b2bua-cli's --json option.
 */
import assert from 'node:assert/strict';
import { answerCliCommand } from '../../../core/admin/cli-socket.js';
import type { OperationsSource, ReloadResult } from '../../../core/admin/cli-commands.js';
import { parseCliArgs } from '../../../core/cli/b2bua-cli.js';
import type { TraceStatus } from '../../../core/sip/trace.js';

const CALL = {
  id: 'c7', state: 'answered', callIdA: 'a-call-id@host', callIdB: 'b-call-id', from: 'sip:alice@a', to: 'sip:bob@b', startedAt: '2026-01-01T00:00:00.000Z',
  media: { a: [{ index: 0, kind: 'audio', packetsIn: 150, bytesIn: 25800, packetsOut: 149, bytesOut: 25628, packetsLost: 0, srtpAuthFailures: 0, rejectedSource: 0 }],
    b: [{ index: 0, kind: 'audio', packetsIn: 149, bytesIn: 25628, packetsOut: 150, bytesOut: 25800, srtpAuthFailures: 0, rejectedSource: 0 }] },
};

function stub(): OperationsSource & { hung: string[]; levels: string[]; traced: string[] } {
  let status: TraceStatus = { file: undefined, bytes: 0, maxBytes: 100, messages: 0 };
  const hung: string[] = [];
  const levels: string[] = [];
  const traced: string[] = [];
  return {
    hung, levels, traced,
    calls: () => Promise.resolve([CALL]),
    hangUp: (id) => { if (![CALL.id, CALL.callIdA].includes(id)) return false; hung.push(id); return true; },
    counters: () => ({ calls: 1, dialogs: 2, callsTotal: 12 }),
    workers: () => Promise.resolve({ ok: false, workers: [{ index: 0, pid: 4242, ok: true, sessions: 1 }, { index: 1, pid: 4243, ok: false, problem: 'no answer within 1000 ms' }] }),
    setLogLevel: (level) => { levels.push(level); return level; },
    reload: (): ReloadResult => ({ logLevel: 'info', restartNeeded: true }),
    trace: {
      start: (file, maxBytes) => { traced.push(file); status = { file, bytes: 0, maxBytes: maxBytes ?? 100, messages: 0 }; return Promise.resolve(); },
      stop: () => { status = { ...status, file: undefined }; return Promise.resolve(); },
      status: () => status,
    },
  };
}
const NONE = { get: () => undefined, names: () => [] };
const ask = (line: string, ops: OperationsSource = stub()): Promise<string> => answerCliCommand(line, [], NONE, ops);

describe('CLI socket: operations commands', () => {
  it('calls: an aligned table with the ID and leg A\'s Call-ID; --json: the list', async () => {
    const text = await ask('calls');
    const [header, row] = text.split('\n');
    assert.match(header!, /^ID +STATE +FROM +TO +CALL-ID A +STARTED +ANSWERED$/);
    assert.match(row!, /^c7 +answered +sip:alice@a +sip:bob@b +a-call-id@host +2026-01-01T00:00:00.000Z +-$/);
    assert.equal(header!.indexOf('STATE'), row!.indexOf('answered'), 'columns aligned');
    assert.deepEqual(JSON.parse(await ask('--json calls')), [CALL]);
  });

  it('call <id> (ours or leg A\'s Call-ID): key: value lines and the media report per leg and stream', async () => {
    for (const id of ['c7', 'a-call-id@host']) {
      const text = await ask(`call ${id}`);
      assert.match(text, /^id: +c7$/m);
      assert.match(text, /^callIdA: +a-call-id@host$/m);
      assert.match(text, /^LEG +STREAM +KIND +PACKETS-IN +BYTES-IN +PACKETS-OUT/m);
      assert.match(text, /^a +0 +audio +150 +25800 +149 +25628 +0/m);
      assert.match(text, /^b +0 +audio +149 +25628 +150 +25800 +-/m);
    }
    assert.deepEqual(JSON.parse(await ask('--json call c7')), CALL);
    assert.match(await ask('call nope'), /^Error - No call nope in progress/);
    assert.match(await ask('call'), /^Error - 'call' command expects 1 argument/);
  });

  it('hangup <id>: asks the server; an unknown id is an Error answer', async () => {
    const ops = stub();
    assert.match(await ask('hangup a-call-id@host', ops), /^call a-call-id@host: hanging up/);
    assert.deepEqual(ops.hung, ['a-call-id@host']);
    assert.match(await ask('hangup nope', ops), /^Error - No call nope in progress/);
    assert.deepEqual(ops.hung, ['a-call-id@host']);
  });

  it('counters: aligned key: value; --json parses to the counters', async () => {
    assert.equal(await ask('counters'), 'calls:      1\ndialogs:    2\ncallsTotal: 12');
    assert.deepEqual(JSON.parse(await ask('--json counters')), { calls: 1, dialogs: 2, callsTotal: 12 });
  });

  it('workers: one line a media worker with its pid and state', async () => {
    const lines = (await ask('workers')).split('\n');
    assert.match(lines[0]!, /^WORKER +PID +STATE +SESSIONS +PROBLEM$/);
    assert.match(lines[1]!, /^0 +4242 +ok +1$/);
    assert.match(lines[2]!, /^1 +4243 +not answering +- +no answer within 1000 ms$/);
    assert.equal(JSON.parse(await ask('--json workers')).workers.length, 2);
  });

  it('log-level <level> applies a known level only; reload reports what needs a restart', async () => {
    const ops = stub();
    assert.match(await ask('log-level debug', ops), /^log level: debug/);
    assert.match(await ask('log-level loud', ops), /^Error - 'log-level' command expects 1 argument: one of debug, info/);
    assert.deepEqual(ops.levels, ['debug']);
    assert.equal(await ask('reload', ops), 'log level applied: info\nother [b2bua-server] changes need a restart');
    const failing = { ...ops, reload: (): ReloadResult => ({ problems: ['max-calls: not a number'] }) };
    assert.equal(await ask('reload', failing), 'Error - Nothing reloaded: max-calls: not a number');
  });

  it('trace on [file] [max-MB] / off / state', async () => {
    const ops = stub();
    assert.match(await ask('trace on /tmp/x.log 2', ops), /^SIP trace on: \/tmp\/x.log \(stops at 2097152 bytes\)$/);
    assert.match(await ask('trace', ops), /^SIP trace on: \/tmp\/x.log, 0 messages/);
    assert.match(await ask('trace off', ops), /^SIP trace off: \/tmp\/x.log/);
    assert.equal(await ask('trace', ops), 'SIP trace off');
    assert.match(await ask('trace on', ops), /^SIP trace on: .*b2bua-sip-trace-\d+\.log/);
    assert.match(await ask('trace on /tmp/x.log many', ops), /^Error - trace on: "many" is not a size/);
    assert.match(await ask('trace sideways', ops), /^Error - 'trace' command expects: on/);
  });

  it('Flexisip\'s commands are unchanged, and an unknown command names the operations ones', async () => {
    assert.match(await ask('CONFIG_GET'), /^Error - 'CONFIG_GET' command expects/);
    assert.match(await ask('NOPE'), /^Error - Unknown command: NOPE \(known: CONFIG_GET, CONFIG_LIST, calls, call, hangup, counters, workers, log-level, reload, trace\)/);
  });

  it('b2bua-cli --json (anywhere before the command) sets json; after the command it is an argument', () => {
    assert.deepEqual(parseCliArgs(['--json', 'counters']), { pid: 0, directory: '/tmp', json: true, message: 'counters' });
    assert.deepEqual(parseCliArgs(['-p', '7', '--json', 'call', 'c7']), { pid: 7, directory: '/tmp', json: true, message: 'call c7' });
    assert.deepEqual(parseCliArgs(['calls']), { pid: 0, directory: '/tmp', json: false, message: 'calls' });
  });
});

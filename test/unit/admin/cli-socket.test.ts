/**
 * Flexisip's command-line interface socket (/tmp/flexisip-b2bua-<pid>; here in a temporary folder): the answers,
 * b2bua-cli's exit statuses, and a client speaking flexisip_cli.py's protocol (one send, one recv) in Python.
 * The daemon runs in-process on loopback (port 0, relay media engine) with sip-bridge and a static pool.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { answerCliCommand, cliSocketPath, type CliSection } from '../../../core/admin/cli-socket.js';
import { cliMain, EX_OK, EX_UNAVAILABLE, EX_USAGE, parseCliArgs } from '../../../core/cli/b2bua-cli.js';
import { startDaemon, type RunningDaemon } from '../../../core/daemon/run.js';

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return { stream: new Writable({ write(c: Buffer, _e, done) { chunks.push(c.toString('utf8')); done(); } }), text: () => chunks.join('') };
}

const SECTIONS: CliSection[] = [{
  name: 'b2bua-server',
  schema: { properties: { transport: { type: 'string', default: 'sip:127.0.0.1:6067;transport=tcp' }, 'max-calls': { type: 'integer', default: 500 } } },
  values: new Map([['transport', 'sip:127.0.0.1:0;transport=udp']]),
}];
const COMMANDS = { get: (c: string) => (c === 'SIP_BRIDGE INFO' ? () => ({ providers: [] }) : undefined), names: () => ['SIP_BRIDGE INFO'] };

describe('command-line interface socket (flexisip_cli.py -s b2bua)', function () {
  describe('answers', () => {
    it('CONFIG_GET: the file\'s value, else the default; a section is one line a key, CRLF-ended', async () => {
      assert.equal(await answerCliCommand('CONFIG_GET b2bua-server/transport', SECTIONS, COMMANDS), 'b2bua-server/transport: sip:127.0.0.1:0;transport=udp');
      assert.equal(await answerCliCommand('CONFIG_GET b2bua-server/max-calls', SECTIONS, COMMANDS), 'b2bua-server/max-calls: 500');
      assert.equal(await answerCliCommand('CONFIG_GET b2bua-server', SECTIONS, COMMANDS),
        'b2bua-server/transport: sip:127.0.0.1:0;transport=udp\r\nb2bua-server/max-calls: 500\r\n');
      assert.equal(await answerCliCommand('CONFIG_LIST b2bua-server', SECTIONS, COMMANDS), 'transport\r\nmax-calls\r\n');
      assert.equal(await answerCliCommand('CONFIG_LIST all', SECTIONS, COMMANDS), '[b2bua-server]\r\n');
    });

    it('errors in Flexisip\'s words: unknown key, missing argument, CONFIG_SET, unknown command', async () => {
      assert.equal(await answerCliCommand('CONFIG_GET b2bua-server/nope', SECTIONS, COMMANDS), 'Error - Not found: b2bua-server/nope');
      assert.equal(await answerCliCommand('CONFIG_GET', SECTIONS, COMMANDS), 'Error - \'CONFIG_GET\' command expects 1 argument: <path>');
      assert.match(await answerCliCommand('CONFIG_SET b2bua-server/max-calls 3', SECTIONS, COMMANDS), /^Error - Failed to set "b2bua-server\/max-calls": setting cannot be set while/);
      assert.match(await answerCliCommand('REGISTRAR_DUMP', SECTIONS, COMMANDS), /^Error - Unknown command: REGISTRAR_DUMP/);
    });

    it('application commands: the JSON of SIP_BRIDGE INFO; SIP_BRIDGE alone lists its sub-commands', async () => {
      assert.deepEqual(JSON.parse(await answerCliCommand('SIP_BRIDGE INFO', SECTIONS, COMMANDS)), { providers: [] });
      assert.equal(await answerCliCommand('SIP_BRIDGE', SECTIONS, COMMANDS), 'Valid subcommands for SIP_BRIDGE:\n  INFO');
      const failing = { get: () => () => { throw new Error('boom'); }, names: () => ['X Y'] };
      assert.equal(await answerCliCommand('X Y', SECTIONS, failing), 'Error - X Y failed: boom');
    });

    it('b2bua-cli command line: flexisip_cli.py\'s options; a wrong one is a usage error', () => {
      assert.deepEqual(parseCliArgs(['-p', '42', '-s', 'b2bua', 'SIP_BRIDGE', 'INFO']), { pid: 42, directory: '/tmp', json: false, message: 'SIP_BRIDGE INFO' });
      assert.ok('usage' in parseCliArgs(['-s', 'proxy', 'SIP_BRIDGE', 'INFO']));
      assert.ok('usage' in parseCliArgs(['-p', 'x', 'INFO']));
      assert.ok('usage' in parseCliArgs([]));
    });
  });

  describe('through a running daemon', function () {
    this.timeout(20000);
    let dir: string;
    let daemon: RunningDaemon;

    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-cli-'));
      const providers = path.join(dir, 'providers.json');
      writeFileSync(providers, JSON.stringify({
        schemaVersion: 2,
        providers: [{ name: 'itsp', accountPool: 'pool', triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' },
          onAccountNotFound: 'decline', outgoingInvite: { to: 'sip:{incoming.to.user}@{account.uri.hostport}' } }],
        accountPools: { pool: { outboundProxy: 'sip:127.0.0.1:9;transport=udp', registrationRequired: false, maxCallsPerLine: 2, loader: [{ uri: 'sip:line1@itsp.example.net' }] } },
      }));
      const file = path.join(dir, 'flexisip.conf');
      writeFileSync(file, '[b2bua-server]\napplication=sip-bridge\ntransport=sip:127.0.0.1:0;transport=udp\nmedia-engine=relay\n' +
        `data-directory=${path.join(dir, 'data')}\n[b2bua-server::sip-bridge]\nproviders=${providers}\n`);
      daemon = await startDaemon({ configFile: file, debug: false, logDestination: sink().stream, cliDirectory: dir });
    });
    after(async () => {
      await daemon?.shutdown('test');
      rmSync(dir, { recursive: true, force: true });
    });

    it('the socket is at <dir>/flexisip-b2bua-<pid>, owner-only', () => {
      const socket = cliSocketPath(process.pid, dir);
      assert.ok(statSync(socket).isSocket());
      assert.equal(statSync(socket).mode & 0o777, 0o600);
    });

    it('b2bua-cli -p <pid> SIP_BRIDGE INFO: the accounts with Flexisip\'s status texts, exit 0', async () => {
      const out = sink();
      const status = await cliMain(['-p', String(process.pid), '--socket-directory', dir, 'SIP_BRIDGE', 'INFO'], out.stream, sink().stream);
      assert.equal(status, EX_OK);
      assert.deepEqual(JSON.parse(out.text()), { providers: [{ name: 'itsp', accounts: [{ address: 'sip:line1@itsp.example.net', status: 'OK', registerEnabled: false, freeSlots: 2 }] }] });
    });

    it('b2bua-cli without --pid finds the only daemon; an Error answer exits 64; no daemon exits 69', async () => {
      const out = sink();
      assert.equal(await cliMain(['--socket-directory', dir, 'CONFIG_GET', 'b2bua-server/application'], out.stream, sink().stream), EX_OK);
      assert.equal(out.text(), 'b2bua-server/application: sip-bridge\n');
      assert.equal(await cliMain(['-p', String(process.pid), '--socket-directory', dir, 'CONFIG_SET', 'b2bua-server/max-calls', '1'], sink().stream, sink().stream), EX_USAGE);
      const err = sink();
      assert.equal(await cliMain(['-p', '1', '--socket-directory', dir, 'SIP_BRIDGE', 'INFO'], sink().stream, err.stream), EX_UNAVAILABLE);
      assert.match(err.text(), /could not connect to socket/);
    });

    it('a client written like flexisip_cli.py (Python, one send then one recv) gets the same answer', async function () {
      const python = '/usr/bin/python3';
      if (!existsSync(python)) this.skip();
      const script = 'import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.settimeout(3)\ns.connect(sys.argv[1])\ns.send(sys.argv[2].encode())\nprint(s.recv(65535).decode())';
      const { stdout } = await promisify(execFile)(python, ['-c', script, cliSocketPath(process.pid, dir), 'CONFIG_GET b2bua-server::sip-bridge/providers'], { encoding: 'utf8' });
      assert.equal(stdout.trim(), `b2bua-server::sip-bridge/providers: ${path.join(dir, 'providers.json')}`);
    });

    it('a client that sends garbage or nothing does not disturb the daemon', async () => {
      const net = await import('node:net');
      const socket = cliSocketPath(process.pid, dir);
      await new Promise<void>((resolve) => { const c = net.createConnection(socket, () => { c.write(Buffer.alloc(4096, 0xff)); }); c.resume(); c.on('close', () => resolve()); c.on('error', () => resolve()); });
      const out = sink();
      assert.equal(await cliMain(['-p', String(process.pid), '--socket-directory', dir, 'SIP_BRIDGE', 'INFO'], out.stream, sink().stream), EX_OK);
    });
  });
});

/**
 * The command line of Flexisip's systemd unit (scripts/flexisip-b2bua.service.in):
 *   flexisip --server b2bua --daemon --syslog --pidfile /var/run/flexisip-b2bua.pid
 * run with our bin/b2bua-server: the command returns once the server is ready (Type=forking), the PID file holds the
 * server's pid, the log lines arrive on the syslog socket (a Unix datagram socket read here by Python, standing in for
 * /dev/log through B2BUA_SYSLOG_SOCKET), b2bua-cli reaches the server through its /tmp/flexisip-b2bua-<pid> socket, and
 * SIGTERM stops it and removes the PID file and the socket. Without a syslog socket, --syslog is refused at start-up.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { BIN, REPO } from './daemon-process.js';

const run = promisify(execFile);
const CLI = path.join(REPO, 'bin', 'b2bua-cli');
const RECEIVER = 'import socket,sys,os\ns=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\n' +
  'f=open(sys.argv[2],"a")\nwhile True:\n  f.write(s.recv(70000).decode(errors="replace")+"\\n"); f.flush()\n';

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('daemon: Flexisip\'s systemd command line (--daemon --syslog --pidfile) and b2bua-cli', function () {
  this.timeout(60000);
  let dir: string;
  let receiver: ChildProcess | undefined;
  let serverPid = 0;
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, B2BUA_SYSLOG_SOCKET: path.join(dir, 'log.sock') });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'b2bua-systemd-'));
    fs.writeFileSync(path.join(dir, 'flexisip.conf'),
      `[b2bua-server]\napplication=trenscrypter\ntransport=sip:127.0.0.1:0;transport=udp\ndata-directory=${path.join(dir, 'data')}\n`);
    receiver = spawn('python3', ['-c', RECEIVER, path.join(dir, 'log.sock'), path.join(dir, 'syslog.txt')], { stdio: 'ignore' });
    await until('the syslog socket', () => fs.existsSync(path.join(dir, 'log.sock')), 10000);
  });
  after(() => {
    if (serverPid && alive(serverPid)) process.kill(serverPid, 'SIGKILL');
    receiver?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('returns once the server is ready, with the server\'s pid in the PID file; the server runs detached', async () => {
    const pidFile = path.join(dir, 'flexisip-b2bua.pid');
    const started = Date.now();
    const { stdout } = await run(process.execPath, [BIN, '--server', 'b2bua', '--daemon', '--syslog', '--pidfile', pidFile, '-c', path.join(dir, 'flexisip.conf')],
      { env: env(), timeout: 45000 });
    serverPid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    assert.ok(serverPid > 0 && alive(serverPid), `the PID file names a live process (${serverPid})`);
    assert.match(stdout, new RegExp(`running in the background, pid ${serverPid}`));
    assert.ok(Date.now() - started < 45000);
  });

  it('its log lines reach the syslog socket: ident flexisip-b2bua[pid], facility daemon, severity of the level', async () => {
    const file = path.join(dir, 'syslog.txt');
    await until('the ready line on syslog', () => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('b2bua-server ready'), 10000);
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    const ready = lines.find((l) => l.includes('"msg":"b2bua-server ready"'))!;
    assert.match(ready, new RegExp(`^<30>.*flexisip-b2bua\\[${serverPid}\\]: \\{`), 'daemon.info (3*8+6) with the pid');
    const warning = lines.find((l) => l.includes('B2BUA_CONFIG_WARNING'));
    assert.ok(warning?.startsWith('<28>'), 'a warning is daemon.warning (3*8+4)');
  });

  it('b2bua-cli (no --pid: found from the socket) answers CONFIG_GET and an unknown command as Flexisip does', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'CONFIG_GET', 'b2bua-server/application'], { env: env(), timeout: 10000 });
    assert.equal(stdout.trim(), 'b2bua-server/application: trenscrypter');
    await assert.rejects(run(process.execPath, [CLI, '-p', String(serverPid), 'SIP_BRIDGE', 'INFO'], { env: env(), timeout: 10000 }),
      (e: { code?: number; stdout?: string }) => e.code === 64 && /^Error - Unknown command: SIP_BRIDGE/.test(e.stdout ?? ''));
  });

  it('SIGTERM stops it: the PID file and the CLI socket are removed', async () => {
    process.kill(serverPid, 'SIGTERM');
    await until('the server to exit', () => !alive(serverPid), 20000);
    assert.equal(fs.existsSync(path.join(dir, 'flexisip-b2bua.pid')), false);
    assert.equal(fs.existsSync(`/tmp/flexisip-b2bua-${serverPid}`), false);
  });

  it('a configuration error in --daemon --syslog mode: the command exits 78 (EX_CONFIG) and prints the reason (sent by the detached server)', async () => {
    const bad = path.join(dir, 'bad.conf');
    fs.writeFileSync(bad, '[b2bua-server]\napplication=trenscrypter\nmax-calls=many\n');
    await assert.rejects(run(process.execPath, [BIN, '--daemon', '--syslog', '-c', bad], { env: env(), timeout: 30000 }),
      (e: { code?: number; stderr?: string }) => e.code === 78 && /B2BUA_CONFIG_INVALID|max-calls/.test(e.stderr ?? '') && /exited while starting/.test(e.stderr ?? ''));
  });

  it('--syslog without a syslog socket is refused at start-up (B2BUA_SYSLOG_UNAVAILABLE), exit 1', async () => {
    await assert.rejects(
      run(process.execPath, [BIN, '--syslog', '-c', path.join(dir, 'flexisip.conf')], { env: { ...process.env, B2BUA_SYSLOG_SOCKET: path.join(dir, 'none.sock') }, timeout: 30000 }),
      (e: { code?: number; stderr?: string }) => e.code === 1 && /B2BUA_SYSLOG_UNAVAILABLE|--syslog: .*none\.sock is not a syslog socket/.test(e.stderr ?? ''));
  });
});

/**
 * systemd Type=notify, black-box: the daemon started with NOTIFY_SOCKET naming a Unix datagram socket we listen on
 * (python3, test/e2e/daemon/notify-socket.ts) and WATCHDOG_USEC=2 s. READY=1 comes only once SIP OPTIONS and /health
 * answer; WATCHDOG=1 comes every second while the media workers answer and stops while one is stuck (SIGSTOP);
 * STOPPING=1 comes at SIGTERM, before the exit. With --daemon, READY=1 (with MAINPID=<server>) comes from the
 * command systemd started, the server's later messages from the server.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir } from '../../harness/run-dir.js';
import { requireTools } from '../../harness/tools.js';
import { BIN, REPO } from './daemon-process.js';
import { openNotifySocket, type Notification, type NotifySocket } from './notify-socket.js';
import { optionsOverUdp } from './sip-probe.js';

type Health = { status: string; media: { ok: boolean; workers: { index: number; pid: number; ok: boolean }[] } };

async function health(adminAddress: string): Promise<{ status: number; body: Health }> {
  const res = await fetch(`http://${adminAddress}/health`, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: (await res.json()) as Health };
}

const pings = (received: readonly Notification[], from: number, to = Infinity): Notification[] =>
  received.filter((n) => n.fields['WATCHDOG'] === '1' && n.t >= from && n.t < to);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('systemd Type=notify: READY=1, STATUS=, WATCHDOG=1, STOPPING=1 (real daemon, Unix datagram socket)', function () {
  this.timeout(90000);
  let socketDir: string;
  let socket: NotifySocket | undefined;
  before(() => requireTools(['python3']));
  beforeEach(() => { socketDir = mkdtempSync(path.join(os.tmpdir(), 'sdn-')); });
  afterEach(async () => {
    socket?.close();
    socket = undefined;
    await stopAllStarted();
    rmSync(socketDir, { recursive: true, force: true });
  });

  it('READY=1 after OPTIONS and /health answer; WATCHDOG=1 every second, none while a media worker is stuck; STOPPING=1 before the exit', async () => {
    socket = await openNotifySocket(path.join(socketDir, 'notify'));
    const [sipPort, adminPort] = await freePorts(2);
    const adminAddress = `127.0.0.1:${adminPort}`;
    // Probes fired the moment READY=1 arrives: both must already answer.
    const atReady = socket.waitFor('READY=1', (n) => n.fields['READY'] === '1', 30000)
      .then(async (n) => ({ n, options: await optionsOverUdp(sipPort!, 1000), health: await health(adminAddress) }));
    atReady.catch(() => undefined);
    const daemon: B2buaDaemon = await startB2bua({
      runDir: createRunDir('systemd-notify'),
      outboundProxy: 'sip:127.0.0.1:9;transport=udp',
      settings: { transport: `sip:127.0.0.1:${sipPort};transport=udp`, 'admin-address': adminAddress, 'media-engine': 'gstreamer', 'media-workers': 2 },
      env: { NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: '2000000' },
      readyTimeoutMs: 30000,
    });
    const ready = await atReady;
    assert.match(ready.options, /^SIP\/2.0 200 /, 'OPTIONS answered when READY=1 arrived');
    assert.equal(ready.health.status, 200, `/health when READY=1 arrived: ${JSON.stringify(ready.health.body)}`);
    const readyLine = daemon.logLines().find((l) => l['msg'] === 'b2bua-server ready');
    const readyAt = Date.parse(String(readyLine?.['time']));
    assert.ok(Number.isFinite(readyAt), daemon.logTail());
    assert.ok(ready.n.t >= readyAt, `READY=1 (${ready.n.t}) not before the "b2bua-server ready" log line (${readyAt})`);
    assert.equal(ready.n.fields['STATUS'], 'ready: 0 calls');
    assert.equal(ready.n.pid, daemon.process.pid, 'READY=1 comes from the main process');
    assert.equal(socket.received.filter((n) => n.fields['READY'] === '1').length, 1, 'one READY=1');

    // WATCHDOG_USEC=2 s: a ping every second.
    const t0 = Date.now();
    await sleep(3000);
    assert.ok(pings(socket.received, t0).length >= 2, `≥ 2 WATCHDOG=1 within 3 s: ${JSON.stringify(socket.received.map((n) => n.text))}`);

    // A stuck media worker: /health degraded, no pings (a ping checked just before the stop may still arrive).
    const victim = (await health(adminAddress)).body.media.workers[1]!;
    process.kill(victim.pid, 'SIGSTOP');
    try {
      const stoppedAt = Date.now();
      assert.equal((await health(adminAddress)).status, 503);
      await sleep(4000);
      const during = pings(socket.received, stoppedAt + 1500);
      assert.equal(during.length, 0, `no WATCHDOG=1 while worker ${victim.index} is stuck: ${during.length} arrived`);
      assert.ok(daemon.logLines().some((l) => l['level'] === 40 && /systemd watchdog: not healthy/.test(String(l['msg'])) && /no answer/.test(String(l['problem']))),
        `a warn line says why: ${daemon.logTail(10)}`);
    } finally {
      process.kill(victim.pid, 'SIGCONT');
    }
    const resumedFrom = Date.now();
    await socket.waitFor('WATCHDOG=1 after SIGCONT', (n) => n.fields['WATCHDOG'] === '1' && n.t >= resumedFrom, 5000);

    const sigterm = Date.now();
    await daemon.stop(20000);
    const exitedAt = Date.now();
    const stopping = await socket.waitFor('STOPPING=1', (n) => n.fields['STOPPING'] === '1', 1000);
    assert.ok(stopping.t >= sigterm && stopping.t <= exitedAt, 'STOPPING=1 between SIGTERM and the exit');
    assert.equal(stopping.fields['STATUS'], 'stopping: waiting for 0 calls');
    assert.equal(stopping.pid, daemon.process.pid);
  });

  it('--daemon: the command systemd started sends READY=1 with MAINPID=<server pid>; the server pings the watchdog and sends STOPPING=1', async () => {
    socket = await openNotifySocket(path.join(socketDir, 'notify'));
    const [sipPort, adminPort] = await freePorts(2);
    const runDir = createRunDir('systemd-notify-daemon');
    const config = path.join(runDir, 'flexisip.conf');
    writeFileSync(config, [
      '[b2bua-server]', 'application=trenscrypter', `transport=sip:127.0.0.1:${sipPort};transport=udp`, 'outbound-proxy=sip:127.0.0.1:9;transport=udp',
      'media-engine=relay', `admin-address=127.0.0.1:${adminPort}`, `data-directory=${path.join(runDir, 'data')}`, 'shutdown-grace-period=1', '',
    ].join('\n'));
    // What systemd gives the main process: NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID = its own pid (sh's $$, kept by exec).
    const command = spawn('sh', ['-c', 'WATCHDOG_PID=$$ exec "$0" "$@"', process.execPath, BIN, '--daemon', '-c', config], {
      cwd: REPO, env: { ...process.env, NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: '2000000' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    command.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    command.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const code = await new Promise<number | null>((resolve) => {
      const guard = setTimeout(() => { command.kill('SIGKILL'); }, 30000);
      command.once('exit', (c) => { clearTimeout(guard); resolve(c); });
    });
    assert.equal(code, 0, err);
    const serverPid = Number(/running in the background, pid (\d+)/.exec(out)?.[1]);
    assert.ok(serverPid > 0, out);
    try {
      const ready = await socket.waitFor('READY=1', (n) => n.fields['READY'] === '1', 5000);
      assert.equal(ready.pid, command.pid, 'READY=1 from the process systemd watches (the command)');
      assert.equal(ready.fields['MAINPID'], String(serverPid));
      const ping = await socket.waitFor('WATCHDOG=1', (n) => n.fields['WATCHDOG'] === '1', 5000);
      assert.equal(ping.pid, serverPid, 'the server pings once it is the main pid');
      assert.ok(socket.received.filter((n) => n.pid === serverPid).every((n) => n.t >= ready.t), 'nothing from the server before the hand-over');
      process.kill(serverPid, 'SIGTERM');
      const stopping = await socket.waitFor('STOPPING=1', (n) => n.fields['STOPPING'] === '1', 10000);
      assert.equal(stopping.pid, serverPid);
    } finally {
      const deadline = Date.now() + 15000;
      while (Date.now() < deadline && isAlive(serverPid)) await sleep(100);
      if (isAlive(serverPid)) process.kill(serverPid, 'SIGKILL');
    }
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../../harness/ports.js';
import { killAll, REPO, startDaemon, type DaemonProcess } from './daemon-process.js';
import { optionsOverTcp, optionsOverTls, optionsOverUdp } from './sip-probe.js';

const READY = 'b2bua-server ready';

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** flexisip.conf.example with free ports and a temporary data directory; `edit` changes [b2bua-server] keys. */
function exampleConfig(dir: string, sipPort: number, adminPort: number, edit: Record<string, string> = {}): string {
  let text = readFileSync(path.join(REPO, 'flexisip.conf.example'), 'utf8')
    .replace(/^transport=sip:127\.0\.0\.1:6067/m, `transport=sip:127.0.0.1:${sipPort}`)
    .replace(/^admin-address=.*$/m, `admin-address=127.0.0.1:${adminPort}`)
    .replace(/^data-directory=.*$/m, `data-directory=${path.join(dir, 'data')}`)
    .replace(/^shutdown-grace-period=.*$/m, 'shutdown-grace-period=1');
  for (const [key, value] of Object.entries(edit)) {
    const line = new RegExp(`^${key}=.*$`, 'm');
    text = line.test(text) ? text.replace(line, `${key}=${value}`) : text.replace('[b2bua-server]\n', `[b2bua-server]\n${key}=${value}\n`);
  }
  const file = path.join(dir, `flexisip-${sipPort}.conf`);
  writeFileSync(file, text);
  return file;
}

describe('daemon (bin/b2bua-server, real process on loopback)', function () {
  this.timeout(60000);
  let dir: string;
  const started: DaemonProcess[] = [];
  const run = (args: string[]): DaemonProcess => { const d = startDaemon(args); started.push(d); return d; };

  before(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-daemon-')); });
  after(() => {
    for (const d of started) d.kill();
    killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts on flexisip.conf.example, answers OPTIONS over UDP with 200, serves the admin interface, reloads on SIGHUP, exits 0 on SIGTERM', async () => {
    const [sipPort, adminPort] = await freePorts(2);
    const daemon = run(['--server', 'b2bua', '--config', exampleConfig(dir, sipPort!, adminPort!)]);
    const ready = await daemon.waitForLog(READY, 30000);
    assert.ok(Array.isArray(ready['transports']) && (ready['transports'] as string[]).some((t) => t.includes(`:${sipPort}`)), JSON.stringify(ready));
    assert.equal(daemon.lines().filter((l) => l['msg'] === READY).length, 1, 'exactly one ready line');
    const uaWarning = daemon.lines().find((l) => l['code'] === 'B2BUA_CONFIG_WARNING');
    assert.equal(uaWarning?.['level'], 40, 'the example\'s user-agent=Flexisip-B2BUA/{version} is warned about at start-up');
    assert.match(String(uaWarning['msg']), /\[b2bua-server\] user-agent: "Flexisip-B2BUA\/\{version\}" uses \{version\}.*user-agent=Flexisip-B2BUA\/2\.5\.2/);

    assert.match(await optionsOverUdp(sipPort!), /^SIP\/2.0 200 /);

    const get = async (p: string) => fetch(`http://127.0.0.1:${adminPort}${p}`, { signal: AbortSignal.timeout(3000) });
    assert.equal(((await (await get('/health')).json()) as Record<string, unknown>)['status'], 'ok');
    assert.equal(((await (await get('/counters')).json()) as Record<string, unknown>)['calls'], 0);
    assert.deepEqual(await (await get('/calls')).json(), []);
    assert.equal((await get('/nothing')).status, 404);

    assert.ok(existsSync(path.join(dir, 'data')), 'data-directory created');

    const file = daemon.configFile;
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^log-level=.*$/m, 'log-level=debug'));
    daemon.child.kill('SIGHUP');
    const applied = await daemon.waitForLog(/^SIGHUP: log level applied/, 10000);
    assert.equal(applied['logLevel'], 'debug');
    assert.equal(applied['restartNeeded'], false);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^max-calls=.*$/m, 'max-calls=7'));
    const before = daemon.lines().length;
    daemon.child.kill('SIGHUP');
    await waitFor(() => daemon.lines().slice(before).find((l) => l['restartNeeded'] === true), 10000, 'a SIGHUP line with restartNeeded');

    const t0 = Date.now();
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited(20000), 0, daemon.stderr());
    assert.ok(Date.now() - t0 < 15000);
    assert.ok(daemon.lines().some((l) => l['msg'] === 'b2bua-server stopped'));
    for (const l of daemon.lines()) assert.equal(typeof l['time'], 'string', 'JSON log lines carry a time');
  });

  it('flexisip.conf.example (transport without ;transport=) also answers OPTIONS over TCP with 200', async () => {
    const [sipPort, adminPort] = await freePorts(2);
    const daemon = run(['-c', exampleConfig(dir, sipPort!, adminPort!, { 'admin-address': '' })]);
    await daemon.waitForLog(READY, 30000);
    try {
      assert.match(await optionsOverTcp(sipPort!), /^SIP\/2.0 200 /);
    } finally {
      daemon.child.kill('SIGTERM');
      assert.equal(await daemon.exited(20000), 0);
    }
  });

  it('transport=...;transport=tcp answers OPTIONS over TCP with 200', async () => {
    const [sipPort, adminPort] = await freePorts(2);
    const daemon = run(['-c', exampleConfig(dir, sipPort!, adminPort!, { transport: `sip:127.0.0.1:${sipPort};transport=tcp`, 'admin-address': '' })]);
    await daemon.waitForLog(READY, 30000);
    assert.match(await optionsOverTcp(sipPort!), /^SIP\/2.0 200 /);
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited(20000), 0);
  });

  it('--debug logs at debug level', async () => {
    const [sipPort, adminPort] = await freePorts(2);
    const daemon = run(['--debug', '-c', exampleConfig(dir, sipPort!, adminPort!, { 'admin-address': '' })]);
    await daemon.waitForLog(READY, 30000);
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited(20000), 0);
    assert.ok(daemon.lines().some((l) => l['level'] === 20), 'at least one debug line (level 20)');
  });

  it('loads a third-party plugin from a folder outside the tree (plugin-directories) and runs its ready and shutdown hooks', async () => {
    const plugins = path.join(dir, 'site-plugins');
    mkdirSync(plugins, { recursive: true });
    cpSync(path.join(REPO, 'test', 'fixtures', 'third-party-plugin'), path.join(plugins, 'hello'), { recursive: true });
    const marker = path.join(dir, 'hello.jsonl');
    const [sipPort, adminPort] = await freePorts(2);
    const file = exampleConfig(dir, sipPort!, adminPort!, { application: 'hello', 'plugin-directories': plugins, 'admin-address': '' });
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n[b2bua-server::hello]\nmarker-file=${marker}\ngreeting=hola\n`);
    const daemon = run(['-c', file]);
    const ready = await daemon.waitForLog(READY, 30000);
    assert.equal(ready['application'], 'hello');
    await daemon.waitForLog('hola from a third-party plugin', 5000);
    const first = JSON.parse(readFileSync(marker, 'utf8').split('\n')[0]!) as Record<string, unknown>;
    assert.equal(first['event'], 'ready');
    assert.ok((first['transports'] as string[]).some((t) => t.includes(`:${sipPort}`)));
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited(20000), 0);
    const events = readFileSync(marker, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { event: string }).event);
    assert.deepEqual(events, ['ready', 'shutdown']);
  });

  it('loads the example plugin installed with npm (npm pack + npm install) next to the configuration file', async () => {
    const project = path.join(dir, 'site');
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'site', version: '1.0.0', private: true }));
    const npm = (args: string[]) => execFileSync('npm', args, { cwd: project, timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
    const tarball = npm(['pack', path.join(REPO, 'test', 'fixtures', 'third-party-plugin'), '--pack-destination', project, '--silent']);
    npm(['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', path.join(project, tarball)]);
    const marker = path.join(project, 'hello.jsonl');
    const [sipPort] = await freePorts(1);
    const file = path.join(project, 'flexisip.conf');
    writeFileSync(file, `[b2bua-server]\napplication=hello\ntransport=sip:127.0.0.1:${sipPort};transport=udp\n` +
      `data-directory=${path.join(project, 'data')}\n[b2bua-server::hello]\nmarker-file=hello.jsonl\n`);
    const daemon = run(['-c', file]);
    const starting = await daemon.waitForLog('starting', 30000);
    assert.match(String(starting['from']), /npm package b2bua-plugin-hello at .*site\/node_modules\/b2bua-plugin-hello\/index.js/);
    await daemon.waitForLog(READY, 30000);
    assert.equal((JSON.parse(readFileSync(marker, 'utf8').split('\n')[0]!) as { event: string }).event, 'ready');
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited(20000), 0);
  });

  it('TLS: sips: transport with tls-certificate / tls-private-key answers OPTIONS over TLS with 200', async () => {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'],
      { timeout: 30000, stdio: 'ignore' });
    const [sipPort] = await freePorts(1);
    const file = exampleConfig(dir, sipPort!, 0, {
      transport: `sips:127.0.0.1:${sipPort}`, 'tls-certificate': path.basename(cert), 'tls-private-key': path.basename(key), 'admin-address': '',
    });
    const daemon = run(['-c', file]);
    await daemon.waitForLog(READY, 30000);
    assert.match(await optionsOverTls(sipPort!), /^SIP\/2.0 200 /);
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited(20000), 0);
  });

  it('/health and /ready: 503 naming the worker while a media worker is stuck or dead, 200 again once it is replaced', async () => {
    const [sipPort, adminPort] = await freePorts(2);
    const daemon = run(['-c', exampleConfig(dir, sipPort!, adminPort!, { 'media-workers': '2' })]);
    await daemon.waitForLog(READY, 30000);
    type Health = { status: string; media: { ok: boolean; workers: { index: number; pid: number; ok: boolean; problem?: string }[] } };
    const get = async (p: string): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(`http://127.0.0.1:${adminPort}${p}`, { signal: AbortSignal.timeout(3000) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const healthy = await get('/health');
    assert.equal(healthy.status, 200, JSON.stringify(healthy.body));
    const before = healthy.body as unknown as Health;
    assert.equal(before.status, 'ok');
    assert.equal(before.media.workers.length, 2);
    assert.ok(before.media.workers.every((w) => w.ok && w.pid > 0));
    assert.equal((await get('/ready')).status, 200);

    const victim = before.media.workers[1]!;
    // SIGSTOP: alive but not answering (a stuck worker), then SIGKILL: dead until the pool respawns it.
    process.kill(victim.pid, 'SIGSTOP');
    const stuck = await get('/health');
    assert.equal(stuck.status, 503);
    const stuckWorker = (stuck.body as unknown as Health).media.workers[1]!;
    assert.equal(stuckWorker.ok, false);
    assert.match(String(stuckWorker.problem), /no answer within 1000 ms/);
    assert.equal((await get('/ready')).status, 503);
    process.kill(victim.pid, 'SIGKILL');

    let replaced: Health | undefined;
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      const h = await get('/health');
      const body = h.body as unknown as Health;
      if (h.status === 200 && body.media.workers[1]!.pid !== victim.pid) { replaced = body; break; }
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(replaced, 'the worker is replaced and /health is ok again within 15 s');
    assert.equal(replaced.status, 'ok');
    assert.equal((await get('/ready')).status, 200);
  });

  it('a bad configuration: exit 78 (EX_CONFIG, not restarted by the unit), the problem on stderr, no stack trace', async () => {
    const [sipPort, adminPort] = await freePorts(2);
    const daemon = run(['-c', exampleConfig(dir, sipPort!, adminPort!, { 'max-call': '3' })]);
    assert.equal(await daemon.exited(20000), 78);
    assert.match(daemon.stderr(), /B2BUA_CONFIG_INVALID: .*\[b2bua-server\] max-call: unknown key \(did you mean "max-calls"\?\)/);
    assert.doesNotMatch(daemon.stderr(), /\n\s+at /, 'no stack trace');
  });

  it('a SIP port in use: exit 1 (transient: the unit restarts it), not 78', async () => {
    const [sipPort, adminPort] = await freePorts(2);
    const squatter = net.createServer().listen(sipPort, '127.0.0.1');
    await once(squatter, 'listening');
    try {
      const daemon = run(['-c', exampleConfig(dir, sipPort!, adminPort!)]);
      assert.equal(await daemon.exited(30000), 1, daemon.stderr());
      assert.match(daemon.stderr(), /B2BUA_TRANSPORT_FAILED: .*EADDRINUSE/);
    } finally {
      squatter.close();
    }
  });

  it('--check-config: exit 0 and OK on the example, exit 78 naming the problem otherwise', async () => {
    const ok = run(['--check-config', '-c', path.join(REPO, 'flexisip.conf.example')]);
    assert.equal(await ok.exited(20000), 0);
    assert.match(ok.stdout(), /^OK: /);
    const bad = path.join(dir, 'bad.conf');
    writeFileSync(bad, '[b2bua-server]\napplication=nonexistent\naudio-port=9-1\n');
    const ko = run(['--check-config', '-c', bad]);
    assert.equal(await ko.exited(20000), 78);
    assert.match(ko.stderr(), /application: unknown application "nonexistent"/);
    assert.match(ko.stderr(), /audio-port: "9-1": the range starts after it ends/);
  });

  it('--version, --help, --dump-default and a wrong --server', async () => {
    const v = run(['--version']);
    assert.equal(await v.exited(20000), 0);
    assert.match(v.stdout(), /^b2bua-server \d+\.\d+\.\d+/);
    const h = run(['--help']);
    assert.equal(await h.exited(20000), 0);
    assert.match(h.stdout(), /--check-config/);
    const d = run(['--dump-default']);
    assert.equal(await d.exited(20000), 0);
    assert.match(d.stdout(), /^\[b2bua-server\]$/m);
    const s = run(['--server', 'proxy']);
    assert.equal(await s.exited(20000), 2);
    assert.match(s.stderr(), /B2BUA_USAGE: --server proxy/);
  });
});

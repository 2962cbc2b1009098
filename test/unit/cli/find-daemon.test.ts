/**
 * b2bua-cli without --pid: which daemon it talks to. A socket file left by a daemon killed with SIGKILL (its pid may
 * have been reused by another process since) must not count as a running daemon.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { cliSocketPath } from '../../../core/admin/cli-socket.js';
import { findDaemon } from '../../../core/cli/b2bua-cli.js';

function listen(socketPath: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => s.destroy());
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
  });
}

describe('b2bua-cli: finding the daemon without --pid', () => {
  let dir: string;
  const servers: net.Server[] = [];
  const noPidFile = (): string => path.join(dir, 'none.pid');
  beforeEach(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-find-')); });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  it('skips a socket file nobody listens on, even when its pid names a live process', async () => {
    writeFileSync(cliSocketPath(process.ppid, dir), '');
    servers.push(await listen(cliSocketPath(process.pid, dir)));
    assert.deepEqual(await findDaemon(dir, noPidFile()), { pid: process.pid });
  });

  it('only a stale socket: no running daemon, and the message says where it looked', async () => {
    writeFileSync(cliSocketPath(process.pid, dir), '');
    const found = await findDaemon(dir, noPidFile());
    assert.ok('error' in found && found.error.startsWith('no running b2bua-server found'), JSON.stringify(found));
  });

  it('two daemons answering: asks for --pid and names both', async () => {
    servers.push(await listen(cliSocketPath(process.pid, dir)), await listen(cliSocketPath(process.ppid, dir)));
    const found = await findDaemon(dir, noPidFile());
    assert.ok('error' in found, JSON.stringify(found));
    assert.match(found.error, new RegExp(`several b2bua-server daemons are running \\((${process.pid}, ${process.ppid}|${process.ppid}, ${process.pid})\\): choose one with --pid`));
  });

  it('a PID file naming a live process wins over the sockets', async () => {
    const pidFile = path.join(dir, 'flexisip-b2bua.pid');
    writeFileSync(pidFile, `${process.ppid}\n`);
    servers.push(await listen(cliSocketPath(process.pid, dir)));
    assert.deepEqual(await findDaemon(dir, pidFile), { pid: process.ppid });
  });
});

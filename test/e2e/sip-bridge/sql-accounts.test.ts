/**
 * sip-bridge accounts from REAL PostgreSQL and MariaDB servers (throwaway instances, test/harness/databases.ts):
 * the daemon starts while the database is down (B2BUA_DATABASE_FAILED, retried, no crash), the database comes up,
 * the account read from Flexisip's `users` table REGISTERs with digest against the sipp ITSP
 * (scenarios/sip-bridge/uas_itsp.xml, verifyauth), then the database stops mid-run and the daemon keeps the account.
 */
import assert from 'node:assert/strict';
import type { Context } from 'mocha';
import { startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { standardTones } from '../../harness/call-pair.js';
import { missingDatabaseBinaries, startMariadb, startPostgres, usersTable, type DatabaseKind, type DatabaseServer } from '../../harness/databases.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir, tail } from '../../harness/run-dir.js';
import { received, startSipp, waitForListening, type SippRun } from '../../harness/sipp.js';
import { requireTools } from '../../harness/tools.js';
import { readIfExists, sleep, waitUntil } from '../../harness/wait.js';
import { ACCOUNT_URI, ITSP_PASSWORD, ITSP_REALM, ITSP_USER, headerOf, sqlProvidersFile, waitForRegistration } from './bridge-env.js';

const BACKENDS: { kind: DatabaseKind; start: () => Promise<DatabaseServer> }[] = [
  { kind: 'postgresql', start: () => startPostgres() },
  { kind: 'mysql', start: () => startMariadb() },
];

for (const { kind, start } of BACKENDS) {
  describe(`sip-bridge: accounts from ${kind === 'mysql' ? 'MariaDB (dbBackend mysql)' : 'PostgreSQL'}`, function () {
    this.timeout(60000);
    let db: DatabaseServer | undefined;
    let itsp: SippRun | undefined;
    let b2bua: B2buaDaemon | undefined;
    let runDir = '';

    before(async function () {
      requireTools(['sipp', 'ss']);
      const missing = missingDatabaseBinaries(kind);
      if (missing) {
        console.log(`skipped: ${missing}`);
        this.skip();
      }
      runDir = createRunDir(`sip-bridge-sql-${kind}`);
      db = await start();
      const [itspPort] = await freePorts(1);
      const [itspMedia] = await freePorts(4);
      itsp = await startSipp({
        name: 'itsp', runDir, scenario: 'sip-bridge/uas_itsp.xml', port: itspPort!, mediaPort: itspMedia!, calls: 2, concurrent: 4, pauseMs: 300,
        keys: { user: ITSP_USER, pass: ITSP_PASSWORD, realm: ITSP_REALM, rtp: `${standardTones(runDir).callee.ulaw},-1,0` },
        maxSeconds: 80, extraArgs: ['-deadcall_wait', '100'],
      });
      await waitForListening(itsp.port, 'udp');
      // Flexisip's table (sql-loader-tester.cc:46-57) with the ITSP's line: clear-text secret, the proxy written as
      // Flexisip's tester does, a bare registrar that takes the account's protocol.
      await db.sql([
        usersTable(kind),
        `INSERT INTO users VALUES ('${ITSP_USER}', '${ITSP_REALM}', '', NULL, '${ITSP_PASSWORD}', 'clrtxt', 'alice', 'example.org', '<sip:127.0.0.1:${itsp.port};transport=udp>', '127.0.0.1:${itsp.port}', 'UDP')`,
        `INSERT INTO users VALUES ('spare', '${ITSP_REALM}', 'spare-id', NULL, 'x', 'clrtxt', '', '', NULL, NULL, NULL)`,
      ]);
      // down at start
      await db.stop();
      const providers = sqlProvidersFile(runDir, {
        dbBackend: kind, connection: db.connection, threadPoolSize: 4,
        initQuery: `SELECT * FROM users WHERE username = '${ITSP_USER}'`,
        updateQuery: 'SELECT * FROM users WHERE user_id = :identifier',
      });
      b2bua = await startB2bua({
        runDir, outboundProxy: `sip:127.0.0.1:${itsp.port};transport=udp`, settings: { application: 'sip-bridge' },
        extraIni: `[b2bua-server::sip-bridge]\nproviders=${providers}`, maxSeconds: 80,
      });
    });
    afterEach(function (this: Context) {
      if (this.currentTest?.state === 'failed' && b2bua) {
        console.log([`run dir: ${runDir}`, b2bua.logTail(30), '--- itsp errors:', itsp ? tail(itsp.files.errors, 10) : '', `--- ${db?.logFile}`, db ? tail(db.logFile, 10) : ''].join('\n'));
      }
    });
    after(async () => {
      await stopAllStarted();
      await db?.destroy();
    });

    it('(a) the database is down at start: B2BUA_DATABASE_FAILED, the daemon is ready and keeps retrying', async () => {
      const failures = () => b2bua!.logLines().filter((l) => l['code'] === 'B2BUA_DATABASE_FAILED');
      await waitUntil('a first B2BUA_DATABASE_FAILED', () => failures().length >= 1 || undefined, 5000, 100);
      const first = failures()[0]!;
      const where = kind === 'mysql' ? `mysql root@127.0.0.1:${db!.port}/flexisip` : `postgresql postgres@127.0.0.1:${db!.port}/postgres`;
      assert.ok(String(first['msg']).startsWith(`B2BUA_DATABASE_FAILED: sip-bridge pool "itsp": initQuery on ${where} failed: `), String(first['msg']));
      assert.match(String(first['msg']), /retrying in \d+ ms/);
      assert.ok(!String(first['msg']).includes('password'), 'no password in the message');
      assert.ok(b2bua!.logLines().some((l) => l['msg'] === 'b2bua-server ready'), 'the daemon started anyway');
      await waitUntil('a retry', () => failures().length >= 2 || undefined, 5000, 100);
      assert.ok(b2bua!.process.isRunning());
      assert.equal(received(readIfExists(itsp!.files.messages), /^REGISTER /).length, 0, 'no account, no REGISTER');
    });

    it('(b) the database comes up: the account it holds REGISTERs with digest credentials (ITSP verifyauth 200)', async () => {
      await db!.start();
      const registered = await waitForRegistration(b2bua!, 'registered', 40000);
      assert.equal(registered.account, ACCOUNT_URI);
      const loaded = b2bua!.logLines().find((l) => l['msg'] === 'sip-bridge accounts loaded from the database');
      assert.equal(loaded?.['accounts'], 1);
      const registers = received(readIfExists(itsp!.files.messages), /^REGISTER /);
      assert.ok(registers.length >= 2, `challenge and authenticated retry, got ${registers.length}`);
      const auth = headerOf(registers[1]!, 'Authorization') ?? '';
      assert.match(auth, new RegExp(`^Digest .*username="${ITSP_USER}"`));
      assert.match(auth, new RegExp(`realm="${ITSP_REALM}"`));
      assert.match(registers[1]!, new RegExp(`^REGISTER sip:127\\.0\\.0\\.1:${itsp!.port} SIP/2.0`, 'm'), 'registrar column, host:port with the protocol column');
      const info = await sipBridgeInfo(b2bua!);
      assert.deepEqual(info.providers[0]!.accounts.map((a) => [a.address, a.status]), [[ACCOUNT_URI, 'OK']]);
    });

    it('(c) the database stops mid-run: the daemon keeps running and the account stays registered', async () => {
      await db!.stop();
      await sleep(1500);
      assert.ok(b2bua!.process.isRunning(), `daemon alive:\n${b2bua!.logTail(10)}`);
      const info = await sipBridgeInfo(b2bua!);
      assert.deepEqual(info.providers[0]!.accounts.map((a) => [a.address, a.status]), [[ACCOUNT_URI, 'OK']]);
      assert.ok(!b2bua!.logLines().some((l) => l['code'] === 'B2BUA_INTERNAL'), 'no uncaught error');
    });
  });
}

async function sipBridgeInfo(b2bua: { adminAddress: string }): Promise<{ providers: { name: string; accounts: { address: string; status: string }[] }[] }> {
  const res = await fetch(`http://${b2bua.adminAddress}/plugin/${encodeURIComponent('SIP_BRIDGE INFO')}`, { signal: AbortSignal.timeout(3000) });
  assert.equal(res.status, 200);
  return (await res.json()) as { providers: { name: string; accounts: { address: string; status: string }[] }[] };
}

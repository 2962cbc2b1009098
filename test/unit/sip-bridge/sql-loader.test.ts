/**
 * The SQL account loader on a real SQLite file, with the data of Flexisip 2.5.2's own tester
 * (tester/tests/b2bua/sip-bridge/accounts/loaders/sql-loader-tester.cc:40-265): what each row becomes, Flexisip's
 * queries (double-quoted strings included), updates with :identifier, a database that is missing at start, bad rows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../../../core/plugin-api/index.js';
import { CATALOG } from '../../../core/errors/catalog.js';
import { startSipBridge, type SipBridge, type SipBridgeOptions } from '../../../plugins/sip-bridge/index.js';
import { accountUpdateFromPublish, DATABASE_FAILED, DATABASE_ROW_INVALID, sqliteLegacyStrings } from '../../../plugins/sip-bridge/sql-loader.js';
import { describeConnection, readConnection } from '../../../plugins/sip-bridge/sql/connection.js';
import { prepareQuery } from '../../../plugins/sip-bridge/sql/query.js';
import { FakeSip, ManualTimers, fakeHost, noRedis, response, validated } from './fakes.js';

interface Logged { level: string; fields: Record<string, unknown>; msg: string }
function recordingLog(lines: Logged[]): Logger {
  const at = (level: string) => (fields: unknown, msg?: string) => lines.push({ level, fields: (fields ?? {}) as Record<string, unknown>, msg: msg ?? '' });
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
  return log;
}

/** Flexisip's tester table and rows (sql-loader-tester.cc:46-60), written with single-quoted strings. */
function createFlexisipUsers(file: string): void {
  const db = new Database(file);
  db.exec(`CREATE TABLE users (
    username TEXT PRIMARY KEY, domain TEXT, user_id TEXT, realm TEXT NULL, secret TEXT, secret_type TEXT DEFAULT 'MD5',
    alias_username TEXT, alias_domain TEXT, outbound_proxy TEXT NULL, registrar TEXT NULL, protocol TEXT DEFAULT 'UDP')`);
  db.exec('INSERT INTO users VALUES (\'account1\', \'some.provider.example.com\', \'\', NULL, \'\', NULL, \'expected-from\', \'sip.example.org\', NULL, NULL, NULL)');
  db.exec('INSERT INTO users VALUES (\'account2\', \'some.provider.example.com\', \'userId\', NULL, \'p@$sw0rd\', \'clrtxt\', \'\', \'\', \'<sip:sip.another.example.org;transport=udp>\', NULL, NULL)');
  db.exec('INSERT INTO users VALUES (\'account3\', \'other.provider.example.org\', \'anotherId\', \'aNewRealm\', \'hash\', \'MD5\', \'\', \'\', \'sips:sip.outbound.proxy.example.org\', \'sip.registrar.example.org\', \'TCP\')');
  db.close();
}

function providers(dir: string, loader: Record<string, unknown>, pool: Record<string, unknown> = {}): string {
  const file = path.join(dir, 'providers.json');
  fs.writeFileSync(file, JSON.stringify({
    schemaVersion: 2,
    providers: [{
      name: 'db', accountPool: 'fromDb', triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' },
      onAccountNotFound: 'decline', outgoingInvite: { to: '{incoming.to}' },
    }],
    accountPools: { fromDb: { registrationRequired: false, maxCallsPerLine: 2, loader, ...pool } },
  }));
  return file;
}

const UPDATE_QUERY = 'SELECT username, domain, user_id, "newRealm" as realm, "sha-256" as secret_type, secret, alias_username, alias_domain, outbound_proxy, registrar, protocol from users where user_id = :identifier';

describe('sip-bridge SQL account loader (SQLite file)', function () {
  this.timeout(10000);
  let dir: string;
  let dbFile: string;
  let bridge: SipBridge | undefined;
  let stopBridge: (() => Promise<void>) | undefined;
  let logged: Logged[];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sip-bridge-sql-'));
    dbFile = path.join(dir, 'database_filename');
    logged = [];
  });
  afterEach(async () => {
    await stopBridge?.();
    bridge = undefined;
    stopBridge = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function start(loader: Record<string, unknown>, o: { pool?: Record<string, unknown>; sip?: FakeSip; timers?: ManualTimers; dataDirectory?: string } = {}): Promise<SipBridge> {
    const file = providers(dir, { updateQuery: 'not tested here', ...loader }, o.pool);
    const host = fakeHost<SipBridgeOptions>({ providers: file }, dir, o.sip);
    const withLog = { ...host, log: recordingLog(logged), server: { ...host.server, dataDirectory: o.dataDirectory ?? host.server.dataDirectory } };
    bridge = await startSipBridge(withLog, { timers: o.timers, databaseRetryMs: 1000, redisConnector: noRedis });
    stopBridge = () => withLog.hooks.shutdown.promise();
    await withLog.hooks.ready.promise({ transports: [] } as never);
    return bridge;
  }

  const accountsOf = (b: SipBridge) => b.pools.get('fromDb')!.lines.map((l) => ({ uri: l.uri, account: l.account, outboundProxy: l.outboundProxy, registrar: l.registrar }));

  it('reads Flexisip\'s tester rows as Flexisip does (nominalInitialSqlLoadTest)', async () => {
    createFlexisipUsers(dbFile);
    const b = await start({ dbBackend: 'sqlite3', initQuery: 'SELECT * from users', connection: dbFile });
    assert.deepEqual(accountsOf(b), [
      {
        uri: 'sip:account1@some.provider.example.com',
        account: { uri: 'sip:account1@some.provider.example.com', userid: '', secret: '', secretType: 'md5', realm: 'some.provider.example.com', protocol: 'udp', alias: 'sip:expected-from@sip.example.org' },
        outboundProxy: 'sip:some.provider.example.com', registrar: 'sip:some.provider.example.com',
      },
      {
        uri: 'sip:account2@some.provider.example.com',
        account: { uri: 'sip:account2@some.provider.example.com', userid: 'userId', secret: 'p@$sw0rd', secretType: 'clrtxt', realm: 'some.provider.example.com', protocol: 'udp', outboundProxy: '<sip:sip.another.example.org;transport=udp>' },
        outboundProxy: 'sip:sip.another.example.org;transport=udp', registrar: 'sip:sip.another.example.org;transport=udp',
      },
      {
        uri: 'sip:account3@other.provider.example.org',
        account: { uri: 'sip:account3@other.provider.example.org', userid: 'anotherId', secret: 'hash', secretType: 'md5', realm: 'aNewRealm', protocol: 'tcp', outboundProxy: 'sips:sip.outbound.proxy.example.org', registrar: 'sip.registrar.example.org' },
        // a bare registrar takes the account's protocol (account.hh:194-202)
        outboundProxy: 'sips:sip.outbound.proxy.example.org', registrar: 'sip:sip.registrar.example.org;transport=tcp',
      },
    ]);
    const lines = b.pools.get('fromDb')!.lines;
    assert.deepEqual(lines[1]!.credentials, { username: 'userId', realm: 'some.provider.example.com', password: 'p@$sw0rd' });
    assert.deepEqual(lines[2]!.credentials, { username: 'anotherId', realm: 'aNewRealm', ha1: 'hash', algorithm: 'MD5' });
    assert.equal(lines[0]!.credentials, undefined, 'no secret, no credentials');
    assert.ok(logged.some((l) => l.msg === 'sip-bridge accounts loaded from the database' && l.fields['accounts'] === 3));
    // the loaded accounts are routable: SIP_BRIDGE INFO lists them
    assert.deepEqual(b.info().providers[0]!.accounts.map((a) => a.address), lines.map((l) => l.uri));
  });

  it('runs Flexisip\'s query with double-quoted strings and NULLs (initialSqlLoadTestWithEmptyFields)', async () => {
    createFlexisipUsers(dbFile);
    const b = await start({
      dbBackend: 'sqlite3', connection: `db=${dbFile} timeout=2`,
      initQuery: 'SELECT username, domain, "" as user_id, NULL as realm, "unknown" as secret_type, "" as secret, alias_username, alias_domain, NULL as outbound_proxy, registrar, protocol from users',
    });
    const accounts = accountsOf(b).map((a) => a.account);
    assert.deepEqual(accounts.map((a) => [a.uri, a.realm, a.secretType, a.secret, a.alias, a.registrar, a.protocol]), [
      ['sip:account1@some.provider.example.com', 'some.provider.example.com', 'md5', '', 'sip:expected-from@sip.example.org', undefined, 'udp'],
      ['sip:account2@some.provider.example.com', 'some.provider.example.com', 'md5', '', undefined, undefined, 'udp'],
      ['sip:account3@other.provider.example.org', 'other.provider.example.org', 'md5', '', undefined, 'sip.registrar.example.org', 'tcp'],
    ]);
    assert.ok(logged.some((l) => l.level === 'warn' && /double-quoted strings/.test(l.msg)), 'the rewrite is reported');
  });

  it('skips a row without username (initialSqlLoadTestUriCantBeNull) with B2BUA_DATABASE_ROW_INVALID', async () => {
    createFlexisipUsers(dbFile);
    const b = await start({ dbBackend: 'sqlite3', connection: dbFile, initQuery: 'SELECT NULL as username, domain, user_id, realm, secret, secret_type, alias_username, alias_domain FROM users' });
    assert.equal(b.pools.get('fromDb')!.lines.length, 0);
    const errors = logged.filter((l) => l.fields['code'] === DATABASE_ROW_INVALID);
    assert.equal(errors.length, 3);
    assert.match(errors[0]!.msg, /initQuery row 1: username is NULL/);
  });

  it('a query without Flexisip\'s columns fails clearly, naming them', async () => {
    createFlexisipUsers(dbFile);
    const timers = new ManualTimers();
    await start({ dbBackend: 'sqlite3', connection: dbFile, initQuery: 'SELECT username, domain FROM users' }, { timers });
    const row = logged.find((l) => l.fields['code'] === DATABASE_ROW_INVALID)!;
    assert.match(row.msg, /no column user_id, realm, secret, secret_type, alias_username, alias_domain \(or alias_hostport\)/);
  });

  it('updateQuery with :identifier updates, creates and deletes accounts (nominalUpdateSqlTest, updateSqlTestDeletion)', async () => {
    createFlexisipUsers(dbFile);
    const b = await start({ dbBackend: 'sqlite3', connection: dbFile, initQuery: 'SELECT * FROM users WHERE username <> \'account2\'', updateQuery: UPDATE_QUERY });
    assert.deepEqual(b.pools.get('fromDb')!.lines.map((l) => l.uri), ['sip:account1@some.provider.example.com', 'sip:account3@other.provider.example.org']);
    // created: account2 was not loaded
    await b.accountUpdateNeeded({ uri: 'sip:account2@some.provider.example.com', identifier: 'userId' });
    const account2 = b.pools.get('fromDb')!.get('sip:account2@some.provider.example.com')!;
    assert.deepEqual(
      [account2.account.realm, account2.account.secretType, account2.account.secret, account2.outboundProxy],
      ['newRealm', 'sha256', 'p@$sw0rd', 'sip:sip.another.example.org;transport=udp'],
    );
    // updated in place: the same line object (its calls keep their slots)
    const account3 = b.pools.get('fromDb')!.get('sip:account3@other.provider.example.org')!;
    const slot = account3.takeSlot();
    await b.accountUpdateNeeded({ uri: 'sip:account3@other.provider.example.org', identifier: 'anotherId' });
    assert.equal(b.pools.get('fromDb')!.get('sip:account3@other.provider.example.org'), account3);
    assert.equal(account3.account.realm, 'newRealm');
    assert.equal(account3.busySlots, 1);
    slot.release();
    // deleted: no row for the identifier
    await b.accountUpdateNeeded({ uri: 'sip:account1@some.provider.example.com', identifier: 'notInDb' });
    assert.equal(b.pools.get('fromDb')!.get('sip:account1@some.provider.example.com'), undefined);
    // a row of another URI is refused (account-pool.cc:471)
    await b.accountUpdateNeeded({ uri: 'sip:martinus@test.linphone.org', identifier: 'userId' });
    assert.equal(b.pools.get('fromDb')!.get('sip:martinus@test.linphone.org'), undefined);
    assert.ok(logged.some((l) => l.fields['code'] === DATABASE_ROW_INVALID && /inconsistent URIs/.test(l.msg)));
  });

  it('a database missing at start: B2BUA_DATABASE_FAILED, retried, loaded once it is there; registrations follow', async () => {
    const timers = new ManualTimers();
    const sip = new FakeSip();
    sip.answer = () => response(200, 'OK');
    const b = await start({ dbBackend: 'sqlite3', connection: 'accounts.db', initQuery: 'SELECT * FROM users' }, {
      timers, sip, dataDirectory: dir, pool: { registrationRequired: true },
    });
    const failure = logged.find((l) => l.fields['code'] === DATABASE_FAILED);
    assert.ok(failure, 'the failure is logged with its code');
    assert.match(failure.msg, new RegExp(`initQuery on sqlite3 ${path.join(dir, 'accounts.db').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} failed: .*; retrying in 1000 ms`));
    assert.equal(b.pools.get('fromDb')!.lines.length, 0);
    assert.equal(b.info().providers[0]!.accounts.length, 0);
    await timers.advance(1000); // still missing: the next delay doubles
    await waitFor(() => logged.filter((l) => l.fields['code'] === DATABASE_FAILED).length === 2);
    assert.equal(logged.filter((l) => l.fields['code'] === DATABASE_FAILED)[1]!.fields['retryInMs'], 2000);
    createFlexisipUsers(path.join(dir, 'accounts.db'));
    await timers.advance(2000);
    await waitFor(() => b.pools.get('fromDb')!.lines.length === 3);
    await timers.advance(10);
    await waitFor(() => sip.sent.filter((r) => r.method === 'REGISTER').length >= 1);
    assert.equal(sip.sent[0]!.uri, 'sip:some.provider.example.com', 'the loaded account registers');
  });

  it('a query failing mid-run: loaded lines stay usable, the update is retried and applied when the table is back', async () => {
    createFlexisipUsers(dbFile);
    const timers = new ManualTimers();
    const b = await start({ dbBackend: 'sqlite3', connection: dbFile, initQuery: 'SELECT * FROM users', updateQuery: UPDATE_QUERY }, { timers });
    const admin = new Database(dbFile);
    admin.exec('ALTER TABLE users RENAME TO users_away');
    const update = b.accountUpdateNeeded({ uri: 'sip:account2@some.provider.example.com', identifier: 'userId' });
    await waitFor(() => logged.some((l) => l.fields['code'] === DATABASE_FAILED));
    assert.match(logged.find((l) => l.fields['code'] === DATABASE_FAILED)!.msg, /updateQuery for sip:account2@some.provider.example.com on sqlite3 .* failed: no such table: users; retrying in 1000 ms/);
    assert.equal(b.pools.get('fromDb')!.lines.length, 3, 'the lines already loaded are still there');
    assert.ok(b.pools.get('fromDb')!.lines.every((l) => l.isAvailable()), 'and usable');
    admin.exec('ALTER TABLE users_away RENAME TO users');
    admin.close();
    await timers.advance(1000);
    await update;
    assert.equal(b.pools.get('fromDb')!.get('sip:account2@some.provider.example.com')!.account.realm, 'newRealm');
  });

  it('queries run off the event loop (worker threads): timers fire during a slow query', async () => {
    createFlexisipUsers(dbFile);
    // a slow initQuery: a recursive count before the rows
    const slow = 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT users.* FROM users, (SELECT count(*) AS c FROM n) WHERE c > 0';
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const started = Date.now();
    try {
      await start({ dbBackend: 'sqlite3', connection: dbFile, initQuery: slow });
    } finally {
      clearInterval(ticker);
    }
    const elapsed = Date.now() - started;
    assert.equal(bridge!.pools.get('fromDb')!.lines.length, 3);
    assert.ok(elapsed > 100, `the query should be slow enough to tell (${elapsed} ms)`);
    assert.ok(ticks >= Math.floor(elapsed / 5 / 4), `the event loop kept running: ${ticks} ticks in ${elapsed} ms`);
  });

  it('validates threadPoolSize, the backend, the connection and the queries as --check-config', async () => {
    const check = async (loader: Record<string, unknown>) => (await validated({ providers: providers(dir, { dbBackend: 'sqlite3', initQuery: 'SELECT * FROM users', updateQuery: 'SELECT * FROM users WHERE user_id = :identifier', connection: 'x.db', ...loader }) }, dir));
    const where = `providers: ${path.join(dir, 'providers.json')}: accountPools.fromDb.loader`;
    assert.deepEqual((await check({})).problems, []);
    assert.deepEqual((await check({ threadPoolSize: 0 })).problems, [
      `${where}.threadPoolSize: invalid thread pool size (0) set in SQL Account loader (write an integer from 1 to 50: Flexisip refuses 0 and below, and cannot open more than 50 connections)`,
    ]);
    assert.match((await check({ threadPoolSize: 51 })).problems[0]!, /invalid thread pool size \(51\)/);
    assert.deepEqual((await check({ threadPoolSize: 50 })).problems, []);
    assert.match((await check({ dbBackend: 'oracle' })).problems.join('\n'), /dbBackend/);
    assert.deepEqual((await check({ dbBackend: 'postgresql', connection: 'host=127.0.0.1 port=5432 dbname=x user=u password=secret hots=1' })).problems, [
      `${where}.connection: "host=127.0.0.1 port=5432 dbname=x user=u password=*** hots=1": unknown key "hots" for postgresql (known keys: host, hostaddr, port, dbname, user, password, connect_timeout, sslmode, application_name, options) (write the soci connection string of postgresql, e.g. "host=127.0.0.1 port=5432 dbname=flexisip user=flexisip password=secret")`,
    ]);
    assert.match((await check({ updateQuery: 'SELECT * FROM users WHERE user_id = :id' })).problems[0]!, /updateQuery: uses :id, but only :identifier is bound/);
    assert.match((await check({ initQuery: 'SELECT * FROM users WHERE user_id = :identifier' })).problems[0]!, /initQuery: uses :identifier, but no parameter is bound/);
    assert.match((await check({ updateQuery: 'SELECT * FROM users' })).warnings.join('\n'), /updateQuery: has no :identifier parameter/);
  });
});

describe('sip-bridge SQL pieces', () => {
  it('reads soci connection strings', () => {
    assert.deepEqual(readConnection('sqlite3', '/var/lib/x.db'), { ok: true, value: { backend: 'sqlite3', file: '/var/lib/x.db', readonly: false, busyTimeoutMs: 5000 } });
    assert.deepEqual(readConnection('sqlite3', 'db=x.db timeout=2 shared_cache=true'), { ok: true, value: { backend: 'sqlite3', file: 'x.db', readonly: false, busyTimeoutMs: 2000 } });
    assert.deepEqual(readConnection('postgresql', 'host=127.0.0.1 port=5433 dbname=flexisip user=fx password=\'a b\\\'c\' connect_timeout=3'), {
      ok: true, value: { backend: 'postgresql', options: { host: '127.0.0.1', port: 5433, database: 'flexisip', user: 'fx', password: 'a b\'c', connectionTimeoutMillis: 3000 } },
    });
    assert.deepEqual(readConnection('mysql', 'db=flexisip user=fx password="p w" host=127.0.0.1 port=3307 reconnect=1'), {
      ok: true, value: { backend: 'mysql', options: { host: '127.0.0.1', port: 3307, database: 'flexisip', user: 'fx', password: 'p w', connectTimeout: 5000 } },
    });
    assert.deepEqual(readConnection('mysql', 'port=99999'), { ok: false, error: 'port=99999 is not a port number' });
    const pg = readConnection('postgresql', 'postgresql://fx:secret@db/flexisip');
    assert.ok(pg.ok);
    assert.equal(describeConnection(pg.value, '/d'), 'postgresql postgresql://fx:***@db/flexisip');
  });

  it('binds :identifier with each driver\'s placeholder, leaving quoted text, comments and :: casts alone', () => {
    const q = 'SELECT \':identifier\' AS a, x::text FROM t -- :nope\nWHERE user_id = :identifier OR alias = :identifier';
    assert.deepEqual(prepareQuery(q, 'postgresql'), { text: 'SELECT \':identifier\' AS a, x::text FROM t -- :nope\nWHERE user_id = $1 OR alias = $2', names: ['identifier', 'identifier'] });
    assert.equal(prepareQuery(q, 'mysql').text, 'SELECT \':identifier\' AS a, x::text FROM t -- :nope\nWHERE user_id = ? OR alias = ?');
  });

  it('rewrites SQLite double-quoted strings only after "no such column"', () => {
    assert.equal(sqliteLegacyStrings('SELECT "a" as x, \'"a"\' FROM t', 'no such column: "a" - should this be a string literal in single-quotes?'), 'SELECT \'a\' as x, \'"a"\' FROM t');
    assert.equal(sqliteLegacyStrings('SELECT "" as x', 'no such column: ""'), 'SELECT \'\' as x');
    assert.equal(sqliteLegacyStrings('SELECT a', 'syntax error'), undefined);
  });

  it('reads a Redis account publish as Flexisip does', () => {
    assert.deepEqual(accountUpdateFromPublish('{"username":"account2","domain":"some.provider.example.com","identifier":"userId"}'), { uri: 'sip:account2@some.provider.example.com', identifier: 'userId' });
    assert.match((accountUpdateFromPublish('{"username":"a"}') as { error: string }).error, /"domain" is missing/);
  });

  it('logs codes the catalog has', () => {
    assert.ok(DATABASE_FAILED in CATALOG && DATABASE_ROW_INVALID in CATALOG);
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

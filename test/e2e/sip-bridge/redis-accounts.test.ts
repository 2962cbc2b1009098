/**
 * sip-bridge live account updates over a REAL redis-server (test/harness/redis.ts, ACL user) and a REAL SQLite file /
 * PostgreSQL server, through the daemon: accounts REGISTER with digest against the sipp ITSP (uas_itsp.xml, verifyauth
 * of user line1 / pw1: every account here authenticates as line1); a row INSERTed / UPDATEd / DELETEd and PUBLISHed
 * on `flexisip/B2BUA/account` (redis-cli) creates / re-REGISTERs / un-REGISTERs its account without restart; Redis
 * killed mid-call: the call and its media go on, Redis back: subscribed again, every pool reloaded (a row changed
 * meanwhile is picked up); hostile messages are logged and ignored. PostgreSQL stopped mid-call: the call goes on, an
 * update published meanwhile is retried and applied when the database is back.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Context } from 'mocha';
import { REPO_ROOT, startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { standardTones } from '../../harness/call-pair.js';
import type { Tones } from '../../harness/call-scenarios.js';
import { portsFilter, startCapture } from '../../harness/capture.js';
import { missingDatabaseBinaries, startPostgres, usersTable, type DatabaseServer } from '../../harness/databases.js';
import { describeFlows, packetsTo, summarizeFlows, toneSecondsIn } from '../../harness/flows.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { missingRedisBinaries, startRedis, type RedisServer } from '../../harness/redis.js';
import { createRunDir, tail } from '../../harness/run-dir.js';
import { received, startSipp, waitForListening, type SippRun } from '../../harness/sipp.js';
import { requireTools } from '../../harness/tools.js';
import { readIfExists, sleep, StopWaiting, waitUntil } from '../../harness/wait.js';
import { ITSP_PASSWORD, ITSP_REALM, ITSP_USER, headerOf, sqlProvidersFile } from './bridge-env.js';

const load = createRequire(import.meta.url);
const CHANNEL = 'flexisip/B2BUA/account';
const DIALED = '+33123456789';
const ACL = { user: 'b2b', password: 's3cret' };
const uri = (user: string): string => `sip:${user}@${ITSP_REALM}`;
const publishOf = (user: string): string => JSON.stringify({ username: user, domain: ITSP_REALM, identifier: user });

/** A row of Flexisip's users table for the ITSP on `port`; `authAs` is user_id (the ITSP only knows line1). */
function row(user: string, port: number, secret = ITSP_PASSWORD, authAs = ITSP_USER): string {
  return `INSERT INTO users VALUES ('${user}', '${ITSP_REALM}', '${authAs}', NULL, '${secret}', 'clrtxt', '${user}-alias', 'example.org', '<sip:127.0.0.1:${port};transport=udp>', '127.0.0.1:${port}', 'UDP')`;
}

/** Flexisip's queries over its tester's users table; `connection` names the database. */
function sqlLoader(dbBackend: string, connection: string): object {
  return { dbBackend, connection, threadPoolSize: 2, initQuery: 'SELECT * FROM users', updateQuery: 'SELECT * FROM users WHERE username = :identifier' };
}

/** The daemon, application=sip-bridge, its providers file and the [module::Registrar] of `redis`. */
function startBridge(runDir: string, itsp: SippRun, providers: string, redis: RedisServer, acl: boolean, maxSeconds = 170): Promise<B2buaDaemon> {
  return startB2bua({
    runDir, outboundProxy: `sip:127.0.0.1:${itsp.port};transport=udp`, settings: { application: 'sip-bridge' },
    extraIni: `[b2bua-server::sip-bridge]\nproviders=${providers}\n\n${registrarSection(redis, acl)}`, maxSeconds,
  });
}

/** What a failed test prints: the run folder, the daemon's last lines, the ITSP's errors, another peer's log. */
function failureReport(runDir: string, b2bua: B2buaDaemon, itsp: SippRun | undefined, peerLog: string | undefined): string {
  return [`run dir: ${runDir}`, b2bua.logTail(40), '--- itsp errors:', itsp ? tail(itsp.files.errors, 10) : '', `--- ${peerLog}`, peerLog ? tail(peerLog, 10) : ''].join('\n');
}

function registrarSection(redis: RedisServer, acl: boolean): string {
  return [
    '[module::Registrar]', 'redis-server-domain=127.0.0.1', `redis-server-port=${redis.port}`,
    ...(acl ? [`redis-auth-user=${ACL.user}`, `redis-auth-password=${ACL.password}`] : []),
    'redis-subscription-keep-alive-check-period=2',
  ].join('\n');
}

async function startItsp(runDir: string, tones: Tones): Promise<SippRun> {
  const [port] = await freePorts(1);
  const [media] = await freePorts(4);
  const itsp = await startSipp({
    name: 'itsp', runDir, scenario: 'sip-bridge/uas_itsp.xml', port: port!, mediaPort: media!, calls: 200, concurrent: 20, pauseMs: 300,
    keys: { user: ITSP_USER, pass: ITSP_PASSWORD, realm: ITSP_REALM, rtp: `${tones.callee.ulaw},-1,0` },
    maxSeconds: 170, extraArgs: ['-deadcall_wait', '100'],
  });
  await waitForListening(itsp.port, 'udp');
  return itsp;
}

/** How many times the plugin logged `state` for `account` so far. */
function stateCount(b2bua: B2buaDaemon, account: string, state: string): number {
  return b2bua.logLines().filter((l) => l['msg'] === 'registration state changed' && l['account'] === account && l['state'] === state).length;
}

/** Waits until `account` was logged in `state` more than `before` times (fails early when the daemon exits). */
function waitForState(b2bua: B2buaDaemon, account: string, state: string, before: number, timeoutMs: number): Promise<true> {
  return waitUntil(`${account} ${state} (after ${before}) in ${b2bua.logFile}`, () => {
    if (!b2bua.process.isRunning()) throw new StopWaiting(`b2bua-server exited:\n${b2bua.logTail(20)}`);
    return stateCount(b2bua, account, state) > before || undefined;
  }, timeoutMs, 100);
}

function waitForLog(b2bua: B2buaDaemon, what: string, predicate: (l: Record<string, unknown>) => boolean, count: number, timeoutMs: number): Promise<Record<string, unknown>[]> {
  return waitUntil(what, () => {
    if (!b2bua.process.isRunning()) throw new StopWaiting(`b2bua-server exited:\n${b2bua.logTail(20)}`);
    const lines = b2bua.logLines().filter(predicate);
    return lines.length >= count ? lines : undefined;
  }, timeoutMs, 100);
}

/** REGISTERs the ITSP received for `account` (To), oldest first. */
function registersFor(itsp: SippRun, account: string): string[] {
  return received(readIfExists(itsp.files.messages), /^REGISTER /).filter((m) => (headerOf(m, 'To') ?? '').includes(`<${account}>`));
}

async function sipBridgeInfo(b2bua: B2buaDaemon): Promise<{ address: string; status: string }[]> {
  const res = await fetch(`http://${b2bua.adminAddress}/plugin/${encodeURIComponent('SIP_BRIDGE INFO')}`, { signal: AbortSignal.timeout(3000) });
  assert.equal(res.status, 200);
  const info = (await res.json()) as { providers: { accounts: { address: string; status: string }[] }[] };
  return info.providers.flatMap((p) => p.accounts).sort((a, b) => a.address.localeCompare(b.address));
}

/**
 * A bridged call that lasts `seconds`, captured: `during` runs once it is established. Asserts the caller's scenario
 * passed and that tones flowed both ways for at least `minToneSeconds`.
 */
async function callThrough(b2bua: B2buaDaemon, itsp: SippRun, tones: Tones, runDir: string, name: string, seconds: number, minToneSeconds: number, during: () => Promise<void>): Promise<void> {
  const [callerPort] = await freePorts(1);
  const [callerMedia] = await freePorts(4);
  const capture = await startCapture(path.join(runDir, `${name}.pcap`), portsFilter([callerPort!, callerMedia!, callerMedia! + 1, itsp.port, itsp.mediaPort, itsp.mediaPort + 1]), seconds + 30);
  const caller = await startSipp({
    name, runDir, scenario: 'uac_call.xml', remote: b2bua.address, port: callerPort, mediaPort: callerMedia,
    pauseMs: seconds * 1000, keys: { rtp: `${tones.caller.ulaw},-1,0`, to_user: DIALED }, maxSeconds: seconds + 25,
  });
  await caller.waitForMessage(/^SIP\/2.0 200 /m, 10000);
  let duringError: unknown;
  await during().catch((e: unknown) => { duringError = e; });
  const rc = await caller.result();
  const packets = await capture.stop();
  if (duringError) throw duringError as Error;
  const report = `${rc.summary}\nflows:\n${describeFlows(summarizeFlows(packets, [440, 880]))}\n${b2bua.logTail(20)}`;
  assert.equal(rc.code, 0, `the call went on to its BYE: ${report}`);
  const atItsp = toneSecondsIn(packetsTo(packets, itsp.mediaPort), 440);
  const atCaller = toneSecondsIn(packetsTo(packets, callerMedia!), 880);
  assert.ok(atItsp >= minToneSeconds, `the ITSP received ${atItsp} s of the caller's 440 Hz\n${report}`);
  assert.ok(atCaller >= minToneSeconds, `the caller received ${atCaller} s of the ITSP's 880 Hz\n${report}`);
}

describe('sip-bridge: live account updates over Redis, accounts in a SQLite file', function () {
  this.timeout(90000);
  let redis: RedisServer | undefined;
  let itsp: SippRun | undefined;
  let b2bua: B2buaDaemon | undefined;
  let tones: Tones;
  let runDir = '';
  let sql: (statement: string) => void = () => assert.fail('no database');

  before(async function () {
    requireTools(['sipp', 'ss', 'dumpcap']);
    const missing = missingRedisBinaries();
    if (missing) throw new Error(`missing test peer: ${missing}`);
    runDir = createRunDir('sip-bridge-redis-sqlite');
    tones = standardTones(runDir);
    redis = await startRedis({ acl: ACL });
    itsp = await startItsp(runDir, tones);
    // the file named relatively: under [b2bua-server] data-directory (the harness's b2bua-data)
    const dataDir = path.join(runDir, 'b2bua-data');
    fs.mkdirSync(dataDir, { recursive: true });
    const Database = load('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(path.join(dataDir, 'accounts.db'));
    sql = (statement) => { db.prepare(statement).run(); };
    sql(usersTable('postgresql'));
    sql(row('line1', itsp.port));
    b2bua = await startBridge(runDir, itsp, sqlProvidersFile(runDir, sqlLoader('sqlite3', 'accounts.db')), redis, true);
  });
  afterEach(function (this: Context) {
    if (this.currentTest?.state === 'failed' && b2bua) console.log(failureReport(runDir, b2bua, itsp, redis?.logFile));
  });
  after(async () => {
    await stopAllStarted();
    await redis?.destroy();
  });

  it('(a) the SQLite accounts REGISTER with digest; the daemon subscribes to flexisip/B2BUA/account with the ACL user', async () => {
    await waitForState(b2bua!, uri('line1'), 'registered', 0, 15000);
    const registers = registersFor(itsp!, uri('line1'));
    assert.match(headerOf(registers[1] ?? '', 'Authorization') ?? '', new RegExp(`^Digest .*username="${ITSP_USER}"`), 'digest to the ITSP');
    const [subscribed] = await waitForLog(b2bua!, 'subscribed', (l) => /subscribed to Redis/.test(String(l['msg'])), 1, 10000);
    assert.equal(subscribed!['server'], `redis://${ACL.user}@127.0.0.1:${redis!.port}`);
    assert.equal(subscribed!['channel'], CHANNEL);
    const clients = await redis!.cli(['CLIENT', 'LIST', 'TYPE', 'pubsub']);
    assert.match(clients, new RegExp(`user=${ACL.user}`), `the subscriber authenticated as ${ACL.user}: ${clients}`);
    assert.ok(!b2bua!.logLines().some((l) => l['code'] === 'B2BUA_REDIS_FAILED'), 'no Redis failure');
  });

  it('(b) a row INSERTed and PUBLISHed REGISTERs within seconds, without restart', async () => {
    sql(row('line2', itsp!.port));
    const receivers = await redis!.publish(CHANNEL, publishOf('line2'));
    assert.equal(receivers, 1, 'the daemon is the one subscriber');
    const t0 = Date.now();
    await waitForState(b2bua!, uri('line2'), 'registered', 0, 5000);
    assert.ok(Date.now() - t0 < 5000);
    const registers = registersFor(itsp!, uri('line2'));
    assert.ok(registers.length >= 2, 'challenge and authenticated REGISTER');
    assert.match(headerOf(registers[registers.length - 1]!, 'Authorization') ?? '', /^Digest /);
    assert.deepEqual((await sipBridgeInfo(b2bua!)).map((a) => [a.address, a.status]), [[uri('line1'), 'OK'], [uri('line2'), 'OK']]);
  });

  it('(c) a changed password + PUBLISH re-REGISTERs with the new credentials, which the ITSP checks (wrong: 403, right again: 200)', async () => {
    const failed = stateCount(b2bua!, uri('line2'), 'failed');
    const registered = stateCount(b2bua!, uri('line2'), 'registered');
    const before = registersFor(itsp!, uri('line2')).length;
    sql('UPDATE users SET secret = \'not-the-password\' WHERE username = \'line2\'');
    await redis!.publish(CHANNEL, publishOf('line2'));
    await waitForState(b2bua!, uri('line2'), 'failed', failed, 8000);
    assert.ok(registersFor(itsp!, uri('line2')).length >= before + 2, 'a new REGISTER and its authenticated retry reached the ITSP');
    const reason = b2bua!.logLines().filter((l) => l['account'] === uri('line2') && l['state'] === 'failed').pop()?.['reason'];
    assert.match(String(reason), /403/, 'the ITSP refused the new (wrong) credentials');
    sql(`UPDATE users SET secret = '${ITSP_PASSWORD}' WHERE username = 'line2'`);
    await redis!.publish(CHANNEL, publishOf('line2'));
    await waitForState(b2bua!, uri('line2'), 'registered', registered, 8000);
  });

  it('(d) a DELETEd row + PUBLISH un-REGISTERs the account (Expires: 0 reaches the ITSP)', async () => {
    sql('DELETE FROM users WHERE username = \'line2\'');
    await redis!.publish(CHANNEL, publishOf('line2'));
    await waitForState(b2bua!, uri('line2'), 'unregistered', 0, 8000);
    const last = registersFor(itsp!, uri('line2')).pop() ?? '';
    assert.equal(headerOf(last, 'Expires'), '0', `last REGISTER of line2:\n${last}`);
    assert.deepEqual((await sipBridgeInfo(b2bua!)).map((a) => a.address), [uri('line1')]);
  });

  it('(e) Redis killed mid-call: the call and its media go on; Redis back on the same port: subscribed again, a row added meanwhile is loaded', async () => {
    const subscribedLines = () => b2bua!.logLines().filter((l) => /subscribed to Redis/.test(String(l['msg'])));
    const subscribedBefore = subscribedLines().length;
    const loadsBefore = b2bua!.logLines().filter((l) => l['msg'] === 'sip-bridge accounts loaded from the database').length;
    await callThrough(b2bua!, itsp!, tones, runDir, 'call-redis-down', 24, 15, async () => {
      await redis!.kill();
      const [lost] = await waitForLog(b2bua!, 'B2BUA_REDIS_FAILED', (l) => l['code'] === 'B2BUA_REDIS_FAILED', 1, 10000);
      assert.match(String(lost!['msg']), /^B2BUA_REDIS_FAILED: sip-bridge account updates: Redis redis:\/\/b2b@127\.0\.0\.1:\d+: .*; reconnecting in \d+ ms/);
      assert.equal(lost!['wasSubscribed'], true);
      sql(row('line3', itsp!.port)); // no one can publish it: only the reload after the resubscribe finds it
      await sleep(3000);
      assert.ok(b2bua!.process.isRunning(), 'the daemon runs without Redis');
      await redis!.start();
      await waitForLog(b2bua!, 'subscribed again', (l) => /subscribed to Redis/.test(String(l['msg'])), subscribedBefore + 1, 40000);
    });
    const again = subscribedLines().pop()!;
    assert.ok(Number(again['subscribedTimes']) >= 2, 'a resubscription');
    assert.ok(b2bua!.logLines().filter((l) => l['msg'] === 'sip-bridge accounts loaded from the database').length > loadsBefore, 'initQuery ran again');
    await waitForState(b2bua!, uri('line3'), 'registered', 0, 10000);
    assert.ok(!b2bua!.logLines().some((l) => l['code'] === 'B2BUA_INTERNAL'), 'no uncaught error');
  });

  it('(f) a PUBLISH after the restart works: line3 deleted and un-REGISTERed', async () => {
    sql('DELETE FROM users WHERE username = \'line3\'');
    assert.equal(await redis!.publish(CHANNEL, publishOf('line3')), 1, 'subscribed on the restarted server');
    await waitForState(b2bua!, uri('line3'), 'unregistered', 0, 8000);
    assert.equal(headerOf(registersFor(itsp!, uri('line3')).pop() ?? '', 'Expires'), '0');
  });

  it('(g) hostile messages (not JSON, missing keys, 70 KiB) are logged B2BUA_REDIS_MESSAGE_INVALID and ignored; the next good one is applied', async () => {
    const invalidBefore = b2bua!.logLines().filter((l) => l['code'] === 'B2BUA_REDIS_MESSAGE_INVALID').length;
    await redis!.publish(CHANNEL, 'this is not JSON');
    await redis!.publish(CHANNEL, JSON.stringify({ username: 'line1', domain: ITSP_REALM }));
    await redis!.publish(CHANNEL, JSON.stringify({ username: 'x'.repeat(70 * 1024), domain: ITSP_REALM, identifier: 'x' }));
    const invalid = (await waitForLog(b2bua!, 'three invalid messages', (l) => l['code'] === 'B2BUA_REDIS_MESSAGE_INVALID', invalidBefore + 3, 5000)).slice(invalidBefore);
    assert.match(String(invalid[0]!['msg']), /not JSON/);
    assert.match(String(invalid[1]!['msg']), /"identifier" is missing/);
    assert.match(String(invalid[2]!['msg']), /bytes, over the 65536 a message may have/);
    assert.ok(fs.statSync(b2bua!.logFile).size < 1024 * 1024, 'the huge message is not logged whole');
    const applied = (l: Record<string, unknown>): boolean => l['msg'] === 'sip-bridge account update from Redis applied' && l['account'] === uri('line1');
    const appliedBefore = b2bua!.logLines().filter(applied).length;
    await redis!.publish(CHANNEL, publishOf('line1'));
    await waitForLog(b2bua!, 'a good update applied', applied, appliedBefore + 1, 5000);
    assert.ok(b2bua!.process.isRunning());
    assert.deepEqual((await sipBridgeInfo(b2bua!)).map((a) => [a.address, a.status]), [[uri('line1'), 'OK']]);
  });

  it('shutdown: the daemon stops cleanly (exit 0) with its Redis session', async () => {
    await b2bua!.stop();
    const left = await redis!.cli(['CLIENT', 'LIST', 'TYPE', 'pubsub']);
    assert.equal(left, '', 'no subscriber left on Redis');
  });
});

describe('sip-bridge: live account updates over Redis, accounts in PostgreSQL stopped mid-call', function () {
  this.timeout(90000);
  let redis: RedisServer | undefined;
  let db: DatabaseServer | undefined;
  let itsp: SippRun | undefined;
  let b2bua: B2buaDaemon | undefined;
  let tones: Tones;
  let runDir = '';

  before(async function () {
    requireTools(['sipp', 'ss', 'dumpcap']);
    const missing = missingRedisBinaries() ?? missingDatabaseBinaries('postgresql');
    if (missing) {
      console.log(`skipped: ${missing}`);
      this.skip();
    }
    runDir = createRunDir('sip-bridge-redis-postgresql');
    tones = standardTones(runDir);
    redis = await startRedis();
    db = await startPostgres();
    itsp = await startItsp(runDir, tones);
    await db.sql([usersTable('postgresql'), row('line1', itsp.port)]);
    b2bua = await startBridge(runDir, itsp, sqlProvidersFile(runDir, sqlLoader('postgresql', db.connection)), redis, false);
  });
  afterEach(function (this: Context) {
    if (this.currentTest?.state === 'failed' && b2bua) console.log(failureReport(runDir, b2bua, itsp, db?.logFile));
  });
  after(async () => {
    await stopAllStarted();
    await redis?.destroy();
    await db?.destroy();
  });

  it('PostgreSQL stops during an established call: the call goes on; an update published meanwhile is retried and applied once it is back', async () => {
    await waitForState(b2bua!, uri('line1'), 'registered', 0, 15000);
    await waitForLog(b2bua!, 'subscribed', (l) => /subscribed to Redis/.test(String(l['msg'])), 1, 10000);
    await db!.sql([row('line2', itsp!.port)]); // not published yet
    await callThrough(b2bua!, itsp!, tones, runDir, 'call-db-down', 20, 12, async () => {
      await db!.stop();
      await redis!.publish(CHANNEL, publishOf('line2'));
      const [failed] = await waitForLog(b2bua!, 'the update fails', (l) => l['code'] === 'B2BUA_DATABASE_FAILED', 1, 10000);
      assert.match(String(failed!['msg']), /updateQuery for sip:line2@itsp\.example\.net on postgresql .* failed: .*; retrying in \d+ ms/);
      assert.ok(b2bua!.process.isRunning());
      await db!.start();
      await waitForState(b2bua!, uri('line2'), 'registered', 0, 20000);
    });
    assert.deepEqual((await sipBridgeInfo(b2bua!)).map((a) => [a.address, a.status]), [[uri('line1'), 'OK'], [uri('line2'), 'OK']]);
    assert.ok(!b2bua!.logLines().some((l) => l['code'] === 'B2BUA_INTERNAL'), 'no uncaught error');
  });
});

describe('sip-bridge: Redis unreachable at start-up; [module::Registrar] checked by --check-config', function () {
  this.timeout(60000);
  let redis: RedisServer | undefined;
  let itsp: SippRun | undefined;
  let b2bua: B2buaDaemon | undefined;
  let runDir = '';
  let sql: (statement: string) => void = () => assert.fail('no database');
  let providers = '';

  before(async function () {
    requireTools(['sipp', 'ss']);
    const missing = missingRedisBinaries();
    if (missing) throw new Error(`missing test peer: ${missing}`);
    runDir = createRunDir('sip-bridge-redis-down');
    redis = await startRedis();
    await redis.kill(); // its port is known, nothing listens on it
    itsp = await startItsp(runDir, standardTones(runDir));
    const file = path.join(runDir, 'accounts.db');
    const Database = load('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(file);
    sql = (statement) => { db.prepare(statement).run(); };
    sql(usersTable('postgresql'));
    sql(row('line1', itsp.port));
    providers = sqlProvidersFile(runDir, sqlLoader('sqlite3', `db=${file} timeout=2`));
  });
  afterEach(function (this: Context) {
    if (this.currentTest?.state === 'failed' && b2bua) console.log(failureReport(runDir, b2bua, itsp, undefined));
  });
  after(async () => {
    await stopAllStarted();
    await redis?.destroy();
  });

  it('--check-config refuses a bad redis-server-port and warns about redis-use-slaves-as-backup, naming the section', () => {
    const conf = path.join(runDir, 'check.conf');
    const check = (registrar: string): { status: number | null; out: string } => {
      fs.writeFileSync(conf, `[b2bua-server]\napplication=sip-bridge\n\n[b2bua-server::sip-bridge]\nproviders=${providers}\n\n[module::Registrar]\n${registrar}\n`);
      const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/b2bua-server'), '--check-config', '-c', conf], { encoding: 'utf8', timeout: 30000 });
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };
    const bad = check('redis-server-port=abc');
    assert.equal(bad.status, 78, bad.out);
    assert.match(bad.out, /\[b2bua-server::sip-bridge\] \[module::Registrar\] redis-server-port: "abc" is not a port \(write an integer from 1 to 65535/);
    const slaves = check('redis-use-slaves-as-backup=true');
    assert.equal(slaves.status, 0, slaves.out);
    assert.match(slaves.out, /B2BUA_CONFIG_WARNING: .*redis-use-slaves-as-backup: "true": the sip-bridge account updates do not fail over to Redis replicas/);
  });

  it('the accounts load and REGISTER without Redis (warned once); Redis up: subscribed, reloaded, then PUBLISH works', async () => {
    b2bua = await startBridge(runDir, itsp!, providers, redis!, false, 60);
    await waitForState(b2bua, uri('line1'), 'registered', 0, 15000);
    await waitForLog(b2bua, 'B2BUA_REDIS_FAILED', (l) => l['code'] === 'B2BUA_REDIS_FAILED', 2, 10000);
    const warned = b2bua.logLines().filter((l) => /Redis is unreachable at start-up; the SQL pools were loaded from the database anyway \(Flexisip loads none/.test(String(l['msg'])));
    assert.equal(warned.length, 1, 'the difference from Flexisip is logged once');
    sql(row('line2', itsp!.port)); // while Redis is down
    await redis!.start();
    await waitForLog(b2bua, 'subscribed', (l) => /subscribed to Redis/.test(String(l['msg'])), 1, 40000);
    await waitForState(b2bua, uri('line2'), 'registered', 0, 10000);
    sql('DELETE FROM users WHERE username = \'line2\'');
    await redis!.publish(CHANNEL, publishOf('line2'));
    await waitForState(b2bua, uri('line2'), 'unregistered', 0, 8000);
    await b2bua.stop();
  });
});

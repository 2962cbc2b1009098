/**
 * The Redis account updates (plugins/sip-bridge/redis-updates.ts) with a fake of OUR PubSubConnector (never of
 * ioredis): connect / subscribe → reload, messages → updates (coalesced, bounded), reconnection and keep-alive;
 * and the [module::Registrar] parameters (redis/parameters.ts). test/e2e/sip-bridge/redis-accounts.test.ts runs a real
 * redis-server.
 */
import assert from 'node:assert/strict';
import { parseIni } from '../../../core/config/ini.js';
import { CATALOG } from '../../../core/errors/catalog.js';
import { configFileView } from '../../../core/plugin-host/index.js';
import type { Logger } from '../../../core/plugin-api/index.js';
import type { PubSubConnection, PubSubConnector, PubSubEvents } from '../../../plugins/sip-bridge/redis/client.js';
import { flexisipSeconds, readRedisParameters, type RedisParameters } from '../../../plugins/sip-bridge/redis/parameters.js';
import {
  ACCOUNT_CHANNEL, MAX_MESSAGE_BYTES, REDIS_FAILED, REDIS_MESSAGE_INVALID, RedisAccountUpdates, type RedisUpdatesOptions,
} from '../../../plugins/sip-bridge/redis-updates.js';
import type { AccountUpdate } from '../../../plugins/sip-bridge/sql-loader.js';
import { waitUntil } from '../../harness/wait.js';
import { ManualTimers, settle, validated } from './fakes.js';

interface Logged { level: string; fields: Record<string, unknown>; msg: string }

function recordingLog(into: Logged[]): Logger {
  const at = (level: string) => (fields: unknown, msg?: string) => {
    into.push({ level, fields: (fields ?? {}) as Record<string, unknown>, msg: msg ?? '' });
  };
  const log: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
  return log;
}

/** A scripted Redis: each connect() takes the next outcome; the test drives messages and closes. */
class FakeRedis {
  outcomes: ('ok' | 'refused' | 'subscribe-fails')[] = [];
  connects = 0;
  events: PubSubEvents | undefined;
  pingOk = true;
  pings = 0;
  closed = 0;
  subscribed: string[] = [];

  readonly connector: PubSubConnector = async (_parameters, events) => {
    this.connects++;
    const outcome = this.outcomes.shift() ?? 'ok';
    if (outcome === 'refused') throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
    this.events = events;
    const connection: PubSubConnection = {
      subscribe: async (channel) => {
        if (outcome === 'subscribe-fails') throw new Error('NOPERM this user has no permissions to access the channel');
        this.subscribed.push(channel);
        return 1;
      },
      ping: async () => {
        this.pings++;
        if (!this.pingOk) throw new Error('no answer to PING within 10000 ms');
      },
      close: () => {
        this.closed++;
      },
    };
    return connection;
  };

  publish(message: string | Buffer, channel = ACCOUNT_CHANNEL): void {
    this.events!.message(channel, Buffer.isBuffer(message) ? message : Buffer.from(message));
  }
}

const PARAMETERS: RedisParameters = { host: '127.0.0.1', port: 6379, auth: { kind: 'none' }, keepAliveSeconds: 60, useSlavesAsBackup: true, slaveCheckSeconds: 60 };

function setUp(extra: Partial<RedisUpdatesOptions> = {}) {
  const redis = new FakeRedis();
  const timers = new ManualTimers();
  const logged: Logged[] = [];
  const applied: AccountUpdate[] = [];
  const reloads: number[] = [];
  let hold: Promise<void> | undefined;
  const updates = new RedisAccountUpdates({
    parameters: PARAMETERS, connector: redis.connector, log: recordingLog(logged), timers, retryMs: 1000, retryMaxMs: 8000,
    reloadAll: async () => {
      reloads.push(timers.now);
    },
    apply: async (u) => {
      applied.push(u);
      await hold;
    },
    now: () => timers.now,
    ...extra,
  });
  return {
    redis, timers, logged, applied, reloads, updates,
    holdUpdates(): () => void {
      let release!: () => void;
      hold = new Promise<void>((r) => { release = r; });
      return () => { hold = undefined; release(); };
    },
  };
}

const message = (username: string, identifier = username, domain = 'itsp.example.net'): string => JSON.stringify({ username, domain, identifier });

describe('sip-bridge Redis account updates', () => {
  it('subscribes to flexisip/B2BUA/account and reloads every pool once subscribed', async () => {
    const t = setUp();
    t.updates.start();
    await settle();
    assert.deepEqual(t.redis.subscribed, [ACCOUNT_CHANNEL]);
    assert.equal(t.updates.state, 'subscribed');
    assert.deepEqual(t.reloads, [0], 'loadAll after the subscribe');
    assert.ok(t.logged.some((l) => /subscribed to Redis/.test(l.msg) && l.fields['channel'] === ACCOUNT_CHANNEL));
  });

  it('a message becomes an update {uri, identifier}; bad messages are logged (B2BUA_REDIS_MESSAGE_INVALID) and ignored', async () => {
    const t = setUp();
    t.updates.start();
    await settle();
    t.redis.publish(message('line2', 'id-2'));
    t.redis.publish('not json');
    t.redis.publish(JSON.stringify({ username: 'x', domain: 'y' }));
    t.redis.publish(JSON.stringify({ username: 1, domain: 'y', identifier: 'z' }));
    t.redis.publish('null');
    t.redis.publish(Buffer.alloc(MAX_MESSAGE_BYTES + 1, 'a'));
    t.redis.publish(message('other'), 'another/channel');
    await settle();
    assert.deepEqual(t.applied, [{ uri: 'sip:line2@itsp.example.net', identifier: 'id-2' }]);
    const invalid = t.logged.filter((l) => l.fields['code'] === REDIS_MESSAGE_INVALID);
    assert.equal(invalid.length, 5, invalid.map((l) => l.msg).join('\n'));
    assert.match(invalid[0]!.msg, /^B2BUA_REDIS_MESSAGE_INVALID: .*not JSON/);
    assert.match(invalid[1]!.msg, /"identifier" is missing/);
    assert.match(invalid[4]!.msg, /65537 bytes, over the 65536/);
    assert.ok(String(invalid[4]!.fields['message']).length <= 80, 'a huge message is not logged whole');
    assert.equal(t.updates.info().invalidMessages, 5);
    assert.ok('B2BUA_REDIS_MESSAGE_INVALID' in CATALOG && 'B2BUA_REDIS_FAILED' in CATALOG);
  });

  it('a flood of bad messages logs a bounded number of lines, then one count', async () => {
    const t = setUp();
    t.updates.start();
    await settle();
    for (let i = 0; i < 1000; i++) t.redis.publish('{');
    assert.equal(t.logged.filter((l) => l.fields['code'] === REDIS_MESSAGE_INVALID).length, 20);
    await t.timers.advance(10_000);
    t.redis.publish('{');
    const lines = t.logged.filter((l) => l.fields['code'] === REDIS_MESSAGE_INVALID);
    assert.equal(lines.length, 22);
    assert.equal(lines[20]!.fields['suppressed'], 980);
  });

  it('updates of one account are coalesced while waiting; at most `concurrency` run at once', async () => {
    const t = setUp({ concurrency: 2 });
    t.updates.start();
    await settle();
    const release = t.holdUpdates();
    t.redis.publish(message('a', 'a1'));
    t.redis.publish(message('b', 'b1'));
    for (let i = 2; i <= 500; i++) t.redis.publish(message('a', `a${i}`)); // a1 runs: only the last waits
    t.redis.publish(message('c', 'c1'));
    await settle();
    assert.deepEqual(t.applied.map((u) => u.identifier), ['a1', 'b1'], 'two running');
    assert.equal(t.updates.info().pending, 2, 'a (latest) and c wait');
    release();
    await settle();
    await settle();
    assert.deepEqual(t.applied.map((u) => u.identifier), ['a1', 'b1', 'a500', 'c1']);
  });

  it('more different accounts waiting than maxPending: dropped for one reload of every pool', async () => {
    const t = setUp({ concurrency: 1, maxPending: 3 });
    t.updates.start();
    await settle();
    const release = t.holdUpdates();
    for (const u of ['a', 'b', 'c', 'd', 'e']) t.redis.publish(message(u));
    await settle();
    assert.deepEqual(t.reloads.length, 2, 'subscribe + overflow');
    assert.ok(t.logged.some((l) => /reloading every SQL pool instead/.test(l.msg)));
    assert.equal(t.updates.info().pending, 0);
    release();
    await settle();
    assert.deepEqual(t.applied.map((u) => u.identifier), ['a'], 'only the one already running');
  });

  it('Redis down at start: warned once, B2BUA_REDIS_FAILED with a growing delay, subscribed and reloaded when it comes', async () => {
    const t = setUp();
    t.redis.outcomes = ['refused', 'refused', 'refused', 'ok'];
    t.updates.start();
    await settle();
    const failures = () => t.logged.filter((l) => l.fields['code'] === REDIS_FAILED);
    assert.equal(failures().length, 1);
    assert.match(failures()[0]!.msg, /^B2BUA_REDIS_FAILED: sip-bridge account updates: Redis redis:\/\/127\.0\.0\.1:6379: cannot connect: connect ECONNREFUSED .*; reconnecting in 1000 ms/);
    assert.equal(t.logged.filter((l) => l.level === 'warn' && /unreachable at start-up.*Flexisip loads none/.test(l.msg)).length, 1);
    assert.equal(t.updates.state, 'disconnected');
    await t.timers.advance(1000);
    await t.timers.advance(2000);
    assert.deepEqual(failures().map((l) => l.fields['retryInMs']), [1000, 2000, 4000]);
    assert.equal(t.reloads.length, 0);
    await t.timers.advance(4000);
    assert.equal(t.updates.state, 'subscribed');
    assert.equal(t.redis.connects, 4);
    assert.equal(t.reloads.length, 1);
    assert.equal(t.logged.filter((l) => /unreachable at start-up/.test(l.msg)).length, 1, 'the start-up warning once');
  });

  it('a lost connection is logged and reconnected; every (re)subscribe reloads; the delay is reset once subscribed', async () => {
    const t = setUp();
    t.updates.start();
    await settle();
    t.redis.events!.closed('read ECONNRESET');
    assert.equal(t.updates.state, 'disconnected');
    const failure = t.logged.find((l) => l.fields['code'] === REDIS_FAILED)!;
    assert.match(failure.msg, /read ECONNRESET; reconnecting in 1000 ms \(accounts keep working/);
    assert.equal(failure.fields['wasSubscribed'], true);
    const stale = t.redis.events!;
    await t.timers.advance(1000);
    assert.equal(t.updates.state, 'subscribed');
    assert.deepEqual(t.reloads, [0, 1000]);
    stale.message(ACCOUNT_CHANNEL, Buffer.from(message('ghost')));
    stale.closed('late event of the old session');
    await settle();
    assert.equal(t.applied.length, 0, 'events of an old session are ignored');
    assert.equal(t.updates.state, 'subscribed');
    t.redis.events!.closed('again');
    const delays = t.logged.filter((l) => l.fields['code'] === REDIS_FAILED).map((l) => l.fields['retryInMs']);
    assert.deepEqual(delays, [1000, 1000], 'back to the first delay after a subscribe');
    assert.equal(t.logged.filter((l) => /unreachable at start-up/.test(l.msg)).length, 0, 'it was reachable at start');
  });

  it('a refused SUBSCRIBE is a failure too (reconnected later)', async () => {
    const t = setUp();
    t.redis.outcomes = ['subscribe-fails', 'ok'];
    t.updates.start();
    await settle();
    assert.match(t.logged.find((l) => l.fields['code'] === REDIS_FAILED)!.msg, /SUBSCRIBE flexisip\/B2BUA\/account failed: NOPERM/);
    assert.equal(t.redis.closed, 1);
    await t.timers.advance(1000);
    assert.equal(t.updates.state, 'subscribed');
  });

  it('keep-alive: PING every redis-subscription-keep-alive-check-period; no answer = reconnect', async () => {
    const t = setUp({ parameters: { ...PARAMETERS, keepAliveSeconds: 5 } });
    t.updates.start();
    await settle();
    await t.timers.advance(5000);
    await t.timers.advance(5000);
    assert.equal(t.redis.pings, 2);
    t.redis.pingOk = false;
    await t.timers.advance(5000);
    assert.match(t.logged.find((l) => l.fields['code'] === REDIS_FAILED)!.msg, /keep-alive PING failed: no answer/);
    assert.equal(t.redis.closed, 1, 'the dead session is closed');
    t.redis.pingOk = true;
    await t.timers.advance(1000);
    assert.equal(t.updates.state, 'subscribed');
    assert.equal(t.redis.connects, 2);
  });

  it('stop(): closed, nothing scheduled, no reconnection', async () => {
    const t = setUp();
    t.updates.start();
    await settle();
    await t.updates.stop();
    assert.equal(t.redis.closed, 1);
    assert.deepEqual(t.timers.scheduled, []);
    t.redis.events!.closed('after stop');
    assert.equal(t.logged.filter((l) => l.fields['code'] === REDIS_FAILED).length, 0);
    assert.equal(t.updates.state, 'stopped');
  });
});

describe('sip-bridge Redis parameters ([module::Registrar])', () => {
  const read = (text: string) => readRedisParameters(configFileView(parseIni(`[module::Registrar]\n${text}`)));

  it('defaults: localhost:6379, no auth, keep-alive 60 s (no section at all either)', () => {
    for (const r of [read(''), readRedisParameters(configFileView(parseIni('')))]) {
      assert.deepEqual(r.problems, []);
      assert.deepEqual(r.warnings, []);
      assert.deepEqual(r.parameters, { host: 'localhost', port: 6379, auth: { kind: 'none' }, keepAliveSeconds: 60, useSlavesAsBackup: true, slaveCheckSeconds: 60 });
    }
  });

  it('ACL when user and password, legacy AUTH with a password only, none without password (a user alone warned)', () => {
    assert.deepEqual(read('redis-auth-user=b2b\nredis-auth-password=s3cret').parameters.auth, { kind: 'acl', user: 'b2b', password: 's3cret' });
    assert.deepEqual(read('redis-auth-password=s3cret').parameters.auth, { kind: 'legacy', password: 's3cret' });
    const userOnly = read('redis-auth-user=b2b');
    assert.deepEqual(userOnly.parameters.auth, { kind: 'none' });
    assert.match(userOnly.warnings[0]!, /^\[module::Registrar\] redis-auth-user: "b2b" without redis-auth-password is ignored, as Flexisip does/);
  });

  it('refuses what Flexisip cannot read, saying what to write', () => {
    assert.deepEqual(read('redis-server-port=abc').problems, ['[module::Registrar] redis-server-port: "abc" is not a port (write an integer from 1 to 65535, e.g. 6379)']);
    assert.equal(read('redis-server-port=70000').problems.length, 1);
    assert.equal(read('redis-server-port=0').problems.length, 1);
    assert.match(read('redis-subscription-keep-alive-check-period=0').problems[0]!, /redis-subscription-keep-alive-check-period: "0" must be positive/);
    assert.match(read('redis-subscription-keep-alive-check-period=500ms').problems[0]!, /milliseconds/);
    assert.match(read('redis-slave-check-period=soon').problems[0]!, /redis-slave-check-period: "soon" is not a duration/);
    assert.match(read('redis-use-slaves-as-backup=yes').problems[0]!, /is not a boolean \(write true or false/);
    assert.match(read('redis-server-domain=').problems[0]!, /redis-server-domain: "" is not a host name/);
    assert.equal(read('redis-server-domain=redis.example.org\nredis-server-port=6380\nredis-subscription-keep-alive-check-period=2min').parameters.keepAliveSeconds, 120);
  });

  it('Flexisip durations in seconds', () => {
    assert.equal(flexisipSeconds('60'), 60);
    assert.equal(flexisipSeconds('30s'), 30);
    assert.equal(flexisipSeconds('1h'), 3600);
    assert.equal(flexisipSeconds('1d'), 86400);
    assert.ok(typeof flexisipSeconds('1.5') !== 'number');
    assert.ok(typeof flexisipSeconds('-1') !== 'number');
  });

  it('redis-use-slaves-as-backup written true: a warning (no replica fail-over, reconnects to the same server); the default is silent', () => {
    const r = read('redis-use-slaves-as-backup=true');
    assert.deepEqual(r.problems, []);
    assert.match(r.warnings[0]!, /redis-use-slaves-as-backup: "true": the sip-bridge account updates do not fail over to Redis replicas .*reconnect to it/);
    assert.deepEqual(read('redis-use-slaves-as-backup=false').warnings, []);
  });
});

describe('sip-bridge validate(): [module::Registrar] only matters with an SQL pool', () => {
  it('is read (problems, warnings) when a pool has an SQL loader, ignored otherwise', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-redis-validate-'));
    const sql = { dbBackend: 'sqlite3', connection: path.join(dir, 'a.db'), initQuery: 'SELECT * FROM users', updateQuery: 'SELECT * FROM users WHERE user_id = :identifier', threadPoolSize: 1 };
    const file = (loader: unknown) => {
      const f = path.join(dir, `p${Math.random()}.json`);
      writeFileSync(f, JSON.stringify({ schemaVersion: 2, providers: [], accountPools: { p: { registrationRequired: false, maxCallsPerLine: 1, loader } } }));
      return f;
    };
    const configFile = configFileView(parseIni('[module::Registrar]\nredis-server-port=abc\n'));
    const withSql = await validated({ providers: file(sql) }, dir, configFile);
    assert.deepEqual(withSql.problems, ['[module::Registrar] redis-server-port: "abc" is not a port (write an integer from 1 to 65535, e.g. 6379)']);
    const staticOnly = await validated({ providers: file([{ uri: 'sip:a@b', secretType: 'clrtxt', secret: 'x' }]) }, dir, configFile);
    assert.deepEqual(staticOnly.problems, []);
  });
});

describe('sip-bridge plugin with Redis account updates (SQLite file, fake Redis)', function () {
  this.timeout(10000);

  const waitFor = (cond: () => boolean): Promise<true> => waitUntil('the pool to change', () => cond() || undefined, 5000, 10);

  it('subscribe → every pool reloaded (a row added before is loaded); a message → updateQuery → account created; no SQL pool → no Redis', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { default: Database } = await import('better-sqlite3');
    const { startSipBridge } = await import('../../../plugins/sip-bridge/index.js');
    const { fakeHost } = await import('./fakes.js');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-redis-plugin-'));
    let shutdown: (() => Promise<void>) | undefined;
    try {
      const dbFile = path.join(dir, 'a.db');
      const db = new Database(dbFile);
      db.exec('CREATE TABLE users (username TEXT, domain TEXT, user_id TEXT, realm TEXT, secret TEXT, secret_type TEXT, alias_username TEXT, alias_domain TEXT)');
      const insert = (u: string) => db.prepare('INSERT INTO users VALUES (?, \'itsp.example.net\', \'\', NULL, \'pw\', \'clrtxt\', \'\', \'\')').run(u);
      insert('a');
      const file = (loader: unknown) => {
        const f = path.join(dir, `p${Math.random()}.json`);
        writeFileSync(f, JSON.stringify({
          schemaVersion: 2,
          providers: [{ name: 'db', accountPool: 'p', triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' }, onAccountNotFound: 'decline', outgoingInvite: { to: '{incoming.to}' } }],
          accountPools: { p: { registrationRequired: false, maxCallsPerLine: 1, loader } },
        }));
        return f;
      };
      const redis = new FakeRedis();
      redis.outcomes = ['refused']; // down when `ready` starts it
      const timers = new ManualTimers();
      const registrar = configFileView(parseIni('[module::Registrar]\nredis-server-domain=redis.example.org\nredis-server-port=6380\nredis-auth-password=pw\n'));
      const logged: Logged[] = [];
      const host = { ...fakeHost({ providers: file({ dbBackend: 'sqlite3', connection: dbFile, initQuery: 'SELECT * FROM users', updateQuery: 'SELECT * FROM users WHERE username = :identifier', threadPoolSize: 1 }) }, dir), configFile: registrar, log: recordingLog(logged) };
      let seen: RedisParameters | undefined;
      const connector: PubSubConnector = (parameters, events, ms) => {
        seen = parameters;
        return redis.connector(parameters, events, ms);
      };
      const bridge = await startSipBridge(host, { timers, redisConnector: connector });
      shutdown = () => host.hooks.shutdown.promise();
      await host.hooks.ready.promise({ version: 'x', transports: [] });
      const uris = () => bridge.pools.get('p')!.lines.map((l) => l.uri).sort();
      assert.deepEqual(uris(), ['sip:a@itsp.example.net'], 'loaded without Redis');
      assert.equal(bridge.redis?.state, 'disconnected');
      assert.deepEqual(seen && { host: seen.host, port: seen.port, auth: seen.auth }, { host: 'redis.example.org', port: 6380, auth: { kind: 'legacy', password: 'pw' } });
      insert('b'); // while Redis is down: nobody publishes it
      await timers.advance(1000);
      assert.equal(bridge.redis?.state, 'subscribed');
      await waitFor(() => uris().length === 2);
      insert('c');
      redis.publish(JSON.stringify({ username: 'c', domain: 'itsp.example.net', identifier: 'c' }));
      await waitFor(() => uris().length === 3);
      db.prepare('DELETE FROM users WHERE username = \'a\'').run();
      redis.publish(JSON.stringify({ username: 'a', domain: 'itsp.example.net', identifier: 'a' }));
      await waitFor(() => uris().length === 2);
      assert.deepEqual(uris(), ['sip:b@itsp.example.net', 'sip:c@itsp.example.net']);
      // reloads never overlap: three asked at once = the one running and one more after it
      const loads = () => logged.filter((l) => l.msg === 'sip-bridge accounts loaded from the database').length;
      const before = loads();
      await Promise.all([bridge.loaders.get('p')!.reload(), bridge.loaders.get('p')!.reload(), bridge.loaders.get('p')!.reload()]);
      assert.equal(loads() - before, 2);
      await host.hooks.shutdown.promise();
      shutdown = undefined;
      assert.equal(bridge.redis?.state, 'stopped');
      db.close();

      const connects = redis.connects;
      const staticOnly = fakeHost({ providers: file([{ uri: 'sip:s@itsp.example.net', secretType: 'clrtxt', secret: 'x' }]) }, dir);
      const noSql = await startSipBridge({ ...staticOnly, configFile: registrar }, { timers, redisConnector: connector });
      await staticOnly.hooks.ready.promise({ version: 'x', transports: [] });
      assert.equal(noSql.redis, undefined);
      assert.equal(redis.connects, connects, 'no Redis client without an SQL pool');
    } finally {
      await shutdown?.(); // a failed assertion must not leave the SQLite worker threads running
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

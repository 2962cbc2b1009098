/**
 * Live account updates over Redis, as Flexisip 2.5.2's AccountPool does for pools with an SQL loader
 * (accounts/account-pool.cc:503-560): SUBSCRIBE `flexisip/B2BUA/account` on the Redis server of `[module::Registrar]`
 * (redis/parameters.ts); after every successful subscribe (the first and after each reconnection) every SQL pool
 * runs its initQuery again; each message `{"username","domain","identifier"}` (RedisAccountPub) becomes an account
 * update (SipBridge.accountUpdateNeeded: updateQuery with :identifier, then create / update / delete). A bad message is
 * logged and ignored; a lost connection is logged and reconnected with a growing delay; PING every
 * `redis-subscription-keep-alive-check-period` finds a dead session.
 *
 * Differences, on purpose: accounts are loaded at start-up without waiting for Redis (Flexisip loads them only once
 * subscribed: without Redis it has none); one Redis session serves every SQL pool (Flexisip opens one per pool, with
 * the same parameters); no fail-over to Redis replicas (see parameters.ts).
 *
 * Bounded work whatever is published: a message over MAX_MESSAGE_BYTES is dropped; updates wait in a map by account
 * URI (a later one of the same URI replaces the waiting one), CONCURRENCY run at a time; more than MAX_PENDING
 * different URIs waiting are dropped for one reload of every pool, which reads them all.
 */
import type { Logger } from '../../core/plugin-api/index.js';
import type { PubSubConnection, PubSubConnector } from './redis/client.js';
import { describeRedis, type RedisParameters } from './redis/parameters.js';
import type { Timers } from './registration.js';
import { accountUpdateFromPublish, type AccountUpdate } from './sql-loader.js';

export const ACCOUNT_CHANNEL = 'flexisip/B2BUA/account';
export const REDIS_FAILED = 'B2BUA_REDIS_FAILED';
export const REDIS_MESSAGE_INVALID = 'B2BUA_REDIS_MESSAGE_INVALID';
export const MAX_MESSAGE_BYTES = 64 * 1024;
export const DEFAULT_MAX_PENDING = 10_000;
export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_RETRY_MS = 1000;
export const DEFAULT_RETRY_MAX_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
/** A PING is answered within this (or the keep-alive period, when shorter). */
export const PING_TIMEOUT_MS = 10_000;
/** Bad messages logged per window; the others are counted in one line at the next one. */
const BAD_LOGS_PER_WINDOW = 20;
const BAD_WINDOW_MS = 10_000;

export type RedisUpdatesState = 'idle' | 'connecting' | 'subscribed' | 'disconnected' | 'stopped';

export interface RedisUpdatesOptions {
  readonly parameters: RedisParameters;
  readonly connector: PubSubConnector;
  readonly log: Logger;
  readonly timers: Timers;
  /** Every SQL pool's initQuery again (after each subscribe; when updates overflow). */
  reloadAll(): Promise<void>;
  /** One account update for every SQL pool; resolves once applied or given up (logged there). */
  apply(update: AccountUpdate): Promise<void>;
  readonly retryMs?: number;
  readonly retryMaxMs?: number;
  readonly connectTimeoutMs?: number;
  readonly maxPending?: number;
  readonly concurrency?: number;
  readonly now?: () => number;
}

export interface RedisUpdatesInfo {
  readonly server: string;
  readonly channel: string;
  readonly state: RedisUpdatesState;
  readonly subscriptions: number;
  readonly messages: number;
  readonly invalidMessages: number;
  readonly pending: number;
}

export class RedisAccountUpdates {
  private stateNow: RedisUpdatesState = 'idle';
  /** Bumped for each connection: events of an older one are ignored. */
  private generation = 0;
  private connection: PubSubConnection | undefined;
  private retryTimer: unknown;
  private keepAliveTimer: unknown;
  private retryDelay: number;
  private everSubscribed = false;
  private warnedAtStart = false;
  private subscriptions = 0;
  private messages = 0;
  private invalid = 0;
  private readonly pending = new Map<string, AccountUpdate>();
  private readonly running = new Set<string>();
  private badWindowStart = 0;
  private badInWindow = 0;
  private badSuppressed = 0;
  readonly server: string;

  constructor(private readonly opts: RedisUpdatesOptions) {
    this.retryDelay = opts.retryMs ?? DEFAULT_RETRY_MS;
    this.server = describeRedis(opts.parameters);
  }

  get state(): RedisUpdatesState {
    return this.stateNow;
  }

  info(): RedisUpdatesInfo {
    return {
      server: this.server, channel: ACCOUNT_CHANNEL, state: this.stateNow, subscriptions: this.subscriptions,
      messages: this.messages, invalidMessages: this.invalid, pending: this.pending.size,
    };
  }

  start(): void {
    if (this.stateNow !== 'idle') return;
    const p = this.opts.parameters;
    this.opts.log.info(
      { server: this.server, channel: ACCOUNT_CHANNEL, keepAliveSeconds: p.keepAliveSeconds, auth: p.auth.kind },
      'sip-bridge account updates: connecting to Redis ([module::Registrar] redis-server-domain / redis-server-port)',
    );
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stateNow = 'stopped';
    this.generation++;
    this.clearTimers();
    this.connection?.close();
    this.connection = undefined;
    this.pending.clear();
  }

  private clearTimers(): void {
    if (this.retryTimer !== undefined) this.opts.timers.clearTimeout(this.retryTimer);
    if (this.keepAliveTimer !== undefined) this.opts.timers.clearTimeout(this.keepAliveTimer);
    this.retryTimer = undefined;
    this.keepAliveTimer = undefined;
  }

  private async connect(): Promise<void> {
    if (this.stateNow === 'stopped') return;
    const generation = ++this.generation;
    const current = (): boolean => generation === this.generation && this.stateNow !== 'stopped';
    this.stateNow = 'connecting';
    let connection: PubSubConnection;
    try {
      connection = await this.opts.connector(this.opts.parameters, {
        message: (channel, message) => {
          if (current()) this.onMessage(channel, message);
        },
        closed: (reason) => {
          if (current()) this.lost(reason);
        },
      }, this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    } catch (e) {
      if (current()) this.lost(`cannot connect: ${(e as Error).message}`);
      return;
    }
    if (!current()) {
      connection.close();
      return;
    }
    this.connection = connection;
    this.opts.log.info({ server: this.server }, 'sip-bridge account updates: connected to Redis');
    let count: number;
    try {
      count = await connection.subscribe(ACCOUNT_CHANNEL);
    } catch (e) {
      if (current()) this.lost(`SUBSCRIBE ${ACCOUNT_CHANNEL} failed: ${(e as Error).message}`);
      return;
    }
    if (!current()) return;
    this.stateNow = 'subscribed';
    this.subscriptions++;
    this.everSubscribed = true;
    this.retryDelay = this.opts.retryMs ?? DEFAULT_RETRY_MS;
    this.opts.log.info(
      { server: this.server, channel: ACCOUNT_CHANNEL, subscriptions: count, subscribedTimes: this.subscriptions },
      'sip-bridge account updates: subscribed to Redis; reloading every SQL pool (updates published while not subscribed are read from the database)',
    );
    this.scheduleKeepAlive(generation);
    this.reloadAll(this.subscriptions === 1 ? 'subscribed' : 'resubscribed');
  }

  private scheduleKeepAlive(generation: number): void {
    const periodMs = this.opts.parameters.keepAliveSeconds * 1000;
    this.keepAliveTimer = this.opts.timers.setTimeout(() => {
      this.keepAliveTimer = undefined;
      const connection = this.connection;
      if (generation !== this.generation || !connection) return;
      connection.ping(Math.min(periodMs, PING_TIMEOUT_MS)).then(
        () => {
          if (generation === this.generation) this.scheduleKeepAlive(generation);
        },
        (e: unknown) => {
          if (generation === this.generation && this.stateNow !== 'stopped') this.lost(`keep-alive PING failed: ${(e as Error).message}`);
        },
      );
    }, periodMs);
  }

  /** The session is gone (or never came): close it, log, reconnect later. */
  private lost(reason: string): void {
    this.generation++;
    this.clearTimers();
    this.connection?.close();
    this.connection = undefined;
    const wasSubscribed = this.stateNow === 'subscribed';
    this.stateNow = 'disconnected';
    const delay = this.retryDelay;
    this.retryDelay = Math.min(delay * 2, this.opts.retryMaxMs ?? DEFAULT_RETRY_MAX_MS);
    const log = this.opts.log;
    if (!this.everSubscribed && !this.warnedAtStart) {
      this.warnedAtStart = true;
      log.warn(
        { server: this.server },
        'sip-bridge account updates: Redis is unreachable at start-up; the SQL pools were loaded from the database anyway (Flexisip loads none until Redis is subscribed); every pool is reloaded once subscribed, which catches the updates published meanwhile',
      );
    }
    log.error(
      { code: REDIS_FAILED, server: this.server, reason, retryInMs: delay, wasSubscribed },
      `${REDIS_FAILED}: sip-bridge account updates: Redis ${this.server}: ${reason}; reconnecting in ${delay} ms (accounts keep working as loaded; check the server and [module::Registrar] redis-server-domain, redis-server-port, redis-auth-user, redis-auth-password)`,
    );
    this.retryTimer = this.opts.timers.setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
  }

  private reloadAll(why: string): void {
    this.opts.reloadAll().catch((e: unknown) => this.opts.log.error({ err: e, why }, 'sip-bridge account updates: reloading the SQL pools failed'));
  }

  private onMessage(channel: string, message: Buffer): void {
    if (channel !== ACCOUNT_CHANNEL) return; // the only channel this session subscribes to
    this.messages++;
    if (message.length > MAX_MESSAGE_BYTES) {
      this.badMessage(`${message.length} bytes, over the ${MAX_MESSAGE_BYTES} a message may have`, message.subarray(0, 80).toString('utf8'));
      return;
    }
    const text = message.toString('utf8');
    const update = accountUpdateFromPublish(text);
    if ('error' in update) {
      this.badMessage(update.error, text.slice(0, 200));
      return;
    }
    this.opts.log.debug({ account: update.uri, identifier: update.identifier }, 'sip-bridge account update received from Redis');
    this.enqueue(update);
  }

  private badMessage(why: string, start: string): void {
    this.invalid++;
    const now = (this.opts.now ?? Date.now)();
    const log = this.opts.log;
    if (now - this.badWindowStart >= BAD_WINDOW_MS) {
      if (this.badSuppressed > 0) {
        log.error({ code: REDIS_MESSAGE_INVALID, suppressed: this.badSuppressed }, `${REDIS_MESSAGE_INVALID}: ${this.badSuppressed} more invalid ${ACCOUNT_CHANNEL} messages were ignored (not logged one by one)`);
      }
      this.badWindowStart = now;
      this.badInWindow = 0;
      this.badSuppressed = 0;
    }
    if (++this.badInWindow > BAD_LOGS_PER_WINDOW) {
      this.badSuppressed++;
      return;
    }
    log.error(
      { code: REDIS_MESSAGE_INVALID, channel: ACCOUNT_CHANNEL, why, message: start },
      `${REDIS_MESSAGE_INVALID}: a message published on ${ACCOUNT_CHANNEL} is not an account update (${why}): ignored; publish {"username": "...", "domain": "...", "identifier": "..."}`,
    );
  }

  private enqueue(update: AccountUpdate): void {
    const max = this.opts.maxPending ?? DEFAULT_MAX_PENDING;
    if (!this.pending.has(update.uri) && this.pending.size >= max) {
      const dropped = this.pending.size + 1;
      this.pending.clear();
      this.opts.log.warn({ dropped }, `sip-bridge account updates: over ${max} accounts waiting for their update: reloading every SQL pool instead (its initQuery reads them all)`);
      this.reloadAll('too many updates');
      return;
    }
    this.pending.set(update.uri, update); // a waiting update of the same account is replaced in place
    this.pump();
  }

  private pump(): void {
    const concurrency = this.opts.concurrency ?? DEFAULT_CONCURRENCY;
    for (const [uri, update] of this.pending) {
      if (this.running.size >= concurrency) return;
      if (this.running.has(uri)) continue; // after the one running
      this.pending.delete(uri);
      this.running.add(uri);
      this.opts.apply(update)
        .then(
          () => this.opts.log.info({ account: uri, identifier: update.identifier }, 'sip-bridge account update from Redis applied'),
          (e: unknown) => this.opts.log.error({ account: uri, err: e }, 'sip-bridge account update from Redis failed'),
        )
        .finally(() => {
          this.running.delete(uri);
          if (this.stateNow !== 'stopped') this.pump();
        });
    }
  }
}

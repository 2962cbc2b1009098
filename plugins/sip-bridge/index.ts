/**
 * sip-bridge: routes calls through external SIP provider accounts (trunking), Flexisip's providers JSON format.
 * Hooks: legBTarget (route or 488), legBMedia (provider's mediaEncryption and enableAvpf), transferTarget (Refer-To in
 * the other side's form), subscribeTarget and registrationChanged (MWI, mwi.ts), callEnded (release the line slot),
 * ready / shutdown (registrations, SQL account loaders, Redis account updates). Admin command `SIP_BRIDGE INFO`
 * (registered from apply(); also answered on Flexisip's CLI socket).
 */
import { CallRejection, definePlugin, PluginConfigError, rejectCall } from '../../core/plugin-api/index.js';
import type { IncomingCall, LegBMedia, LegBTarget, PluginHost } from '../../core/plugin-api/index.js';
import schema from './schema.json' with { type: 'json' };
import { buildPools } from './accounts.js';
import { AccountTransports, accountTransportProblems, listensOnTls } from './account-transports.js';
import { registerBridgeGauges } from './metrics.js';
import type { AccountPool, Line, Slot } from './accounts.js';
import type { AccountSpec, BridgeConfig, CompiledProvider } from './bridge-config.js';
import { bridgeInfo } from './info.js';
import type { SipBridgeInfo } from './info.js';
import { loadBridgeConfig } from './load.js';
import { Mwi } from './mwi.js';
import { Registrations, realTimers } from './registration.js';
import type { Timers } from './registration.js';
import { routeCall } from './routing.js';
import { transferTarget } from './transfer.js';
import { addressesOf } from './template.js';
import { ioredisConnector, type PubSubConnector } from './redis/client.js';
import { readRedisParameters } from './redis/parameters.js';
import { RedisAccountUpdates } from './redis-updates.js';
import { SqlAccountLoader } from './sql-loader.js';
import type { AccountUpdate, PoolChanges } from './sql-loader.js';
import { describeConnection } from './sql/connection.js';
import { createDriver } from './sql/drivers.js';

export type { SipBridgeInfo } from './info.js';
export { accountUpdateFromPublish, type AccountUpdate } from './sql-loader.js';

export interface SipBridgeOptions {
  readonly providers?: string;
}

export const PLUGIN_NAME = 'sip-bridge';
export const INFO_COMMAND = 'SIP_BRIDGE INFO';
/** Suites for a provider forcing SDES when leg A offered none. */
const DEFAULT_SDES_SUITES = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const;

/** What the plugin keeps in `call.data` under 'sip-bridge'. */
export interface CallRoute {
  readonly provider: string;
  readonly account: string;
  readonly slot: Slot;
  readonly mediaEncryption: CompiledProvider['mediaEncryption'];
  /** The provider's outgoingInvite.enableAvpf (undefined: leg B keeps leg A's RTP profile). */
  readonly enableAvpf: boolean | undefined;
}

/** A running bridge: its `info()` answers the admin command; returned for tests. */
export interface SipBridge {
  readonly config: BridgeConfig;
  readonly pools: ReadonlyMap<string, AccountPool>;
  /** The SQL account loaders, by pool name. */
  readonly loaders: ReadonlyMap<string, SqlAccountLoader>;
  info(): SipBridgeInfo;
  /**
   * An account changed in the database (what Flexisip's Redis `flexisip/B2BUA/account` publish means): every SQL pool
   * runs its updateQuery with :identifier = update.identifier and creates, updates or deletes update.uri. Resolves once
   * every pool applied it (or gave up, logged).
   */
  accountUpdateNeeded(update: AccountUpdate): Promise<void>;
  /** Live account updates over Redis (redis-updates.ts); undefined when no pool has an SQL loader. */
  readonly redis: RedisAccountUpdates | undefined;
}

/** Test seams; the server uses the defaults. */
export interface SipBridgeRuntime {
  random?: () => number;
  timers?: Timers;
  retryMs?: number;
  expiresSeconds?: number;
  /** First retry delay of an SQL loader whose database is down. */
  databaseRetryMs?: number;
  /** The Redis client of the account updates (default: ioredis) and its first reconnection delay. */
  redisConnector?: PubSubConnector;
  redisRetryMs?: number;
}

export async function startSipBridge(host: PluginHost<SipBridgeOptions>, runtime: SipBridgeRuntime = {}): Promise<SipBridge> {
  const loaded = await loadBridgeConfig(host.options.providers, host.configDir);
  // validate() ran before apply(); a problem here means the file changed in between or the host skipped validate().
  if (!loaded.ok) throw new PluginConfigError(loaded.problems);
  const config = loaded.value;
  const pools = buildPools(config.pools);
  if (host.metrics) registerBridgeGauges(host.metrics, pools); // optional: a 1.3 host has no metrics channel
  // config.warnings are validate()'s: the host prints them in --check-config and logs them once at start-up.
  const log = host.log; // the host binds the plugin name already
  const random = runtime.random ?? Math.random;

  // [b2bua-server] one-connection-per-account: a socket per account (account-transports.ts), opened in `ready`.
  const sockets = host.server.oneConnectionPerAccount ? new AccountTransports(host.sip, log) : undefined;
  const registrations = new Registrations(
    [...pools.values()].flatMap((p) => p.lines.filter((l) => l.registrationRequired)),
    {
      sip: host.sip,
      log,
      timers: runtime.timers,
      random,
      retryMs: runtime.retryMs,
      expiresSeconds: runtime.expiresSeconds,
      ...(sockets ? { transportOf: (line: Line) => sockets.of(line) } : {}),
      onChange: (event) => {
        log.info(event, 'registration state changed');
        try {
          host.hooks.registrationChanged.call({ plugin: PLUGIN_NAME, ...event });
        } catch (e) {
          log.error({ err: e }, 'a registrationChanged listener threw');
        }
      },
    },
  );

  // SQL pools: lines come and go; registrations follow (Flexisip's AccountPool create / update / delete operations).
  const changes: PoolChanges = {
    created: (_pool, lines) => {
      if (!sockets) return registrations.add(lines.filter((l) => l.registrationRequired));
      void sockets.openFor(lines).then(() => registrations.add(lines.filter((l) => l.registrationRequired && l.transportError === undefined && !l.removed)));
    },
    updated: (pool, line: Line, spec: AccountSpec) => {
      const oldIdentity = spec.uri !== line.uri ? registrations.unregisterRequestOf(line) : undefined;
      const { ok, reregister } = pool.update(line, spec);
      if (!ok) {
        log.warn({ pool: pool.name, account: line.uri, newUri: spec.uri }, 'account update refused: its new URI is another account of the pool');
        return;
      }
      // through the pool's REGISTER queue (throttled), like every REGISTER of the pool
      if (oldIdentity) void registrations.unregisterOldIdentity(line, oldIdentity);
      if (reregister && line.registrationRequired) registrations.refresh(line);
    },
    deleted: (pool, line) => {
      const unregister = registrations.unregisterRequestOf(line);
      pool.remove(line);
      void registrations.remove(line, unregister).finally(() => sockets?.close(line));
    },
  };
  const loaders = new Map<string, SqlAccountLoader>();
  const dataDirectory = host.server.dataDirectory;
  for (const pool of pools.values()) {
    const sql = pool.spec.sql;
    if (!sql) continue;
    const database = describeConnection(sql.connection, dataDirectory);
    const driver = createDriver(sql.connection, sql.threadPoolSize, dataDirectory, (e) => log.warn({ pool: pool.name, database, err: e.message }, 'an idle database connection failed (it is replaced on the next query)'));
    loaders.set(pool.name, new SqlAccountLoader(pool, sql, { driver, log, changes, database, timers: runtime.timers ?? realTimers, retryMs: runtime.databaseRetryMs }));
  }
  // The first loads start now; `ready` waits for their first attempt (bounded by the connect timeouts), then registers.
  const firstLoads = Promise.all([...loaders.values()].map((l) => l.start()));
  // Live account updates: Redis of [module::Registrar], channel flexisip/B2BUA/account (redis-updates.ts); started in `ready`.
  const redis = loaders.size === 0 ? undefined : (() => {
    const read = readRedisParameters(host.configFile);
    if (read.problems.length > 0) throw new PluginConfigError(read.problems);
    return new RedisAccountUpdates({
      parameters: read.parameters, connector: runtime.redisConnector ?? ioredisConnector, log, timers: runtime.timers ?? realTimers, retryMs: runtime.redisRetryMs,
      reloadAll: async () => { await Promise.all([...loaders.values()].map((l) => l.reload())); },
      apply: (update) => bridge.accountUpdateNeeded(update),
    });
  })();

  host.hooks.legBTarget.tapPromise(PLUGIN_NAME, async (target, call) => {
    try {
      return chooseTarget(target, call);
    } catch (e) {
      if (e instanceof CallRejection) throw e;
      log.error({ callId: call.id, err: e }, 'routing failed; declining the call');
      return rejectCall(488, 'Not Acceptable Here');
    }
  });

  // Calls already ended: a late legBTarget (another plugin's tap before ours awaited) must not take a slot nobody frees.
  const ended = new WeakSet<IncomingCall>();

  function chooseTarget(target: LegBTarget, call: IncomingCall): LegBTarget {
    if (ended.has(call)) return rejectCall(487, 'Request Terminated');
    const decision = routeCall(
      config.providers,
      pools,
      addressesOf(call.legA.to, call.legA.from, call.legA.requestUri),
      random,
    );
    if (decision.kind === 'reject') {
      log.info({ callId: call.id, to: call.legA.to.uri, requestUri: call.legA.requestUri, why: decision.why }, 'call not bridged');
      return rejectCall(decision.status, 'Not Acceptable Here');
    }
    releaseSlot(call); // a second routing of the same call must not leak the first slot
    const route: CallRoute = {
      provider: decision.provider.name,
      account: decision.line.uri,
      slot: decision.line.takeSlot(),
      mediaEncryption: decision.provider.mediaEncryption,
      enableAvpf: decision.provider.enableAvpf,
    };
    call.data.set(PLUGIN_NAME, route);
    call.annotate('provider', route.provider); // the call detail record's decision
    call.annotate('account', route.account);
    log.info({ callId: call.id, provider: route.provider, account: route.account, to: decision.target.to }, 'call bridged');
    const transport = sockets?.of(decision.line);
    return { ...target, ...decision.target, ...(transport ? { transport } : {}) };
  }

  function releaseSlot(call: IncomingCall): void {
    const route = call.data.get(PLUGIN_NAME) as CallRoute | undefined;
    route?.slot.release();
  }

  // Flexisip's InviteTweaker: mediaEncryption and enableAvpf override leg B's call parameters when the provider sets them.
  host.hooks.legBMedia.tapPromise(PLUGIN_NAME, async (media: LegBMedia, call) => {
    const route = call.data.get(PLUGIN_NAME) as CallRoute | undefined;
    if (!route) return media;
    const withAvpf = route.enableAvpf === undefined ? media : { ...media, avpf: route.enableAvpf };
    const forced = route.mediaEncryption;
    if (!forced || forced === media.encryption) return withAvpf;
    const srtpSuites = forced !== 'sdes' ? [] : media.srtpSuites.length > 0 ? media.srtpSuites : [...DEFAULT_SDES_SUITES];
    return { ...withAvpf, encryption: forced, srtpSuites };
  });

  // Transfers: the Refer-To in the other side's form (Flexisip's onTransfer); nothing found → as it is.
  host.hooks.transferTarget.tapPromise(PLUGIN_NAME, async (target, transfer) => {
    try {
      const decision = transferTarget(config.providers, pools, addressesOf(target, transfer.legRemote, transfer.legRequestUri), random);
      if (decision.kind === 'keep') {
        log.info({ callId: transfer.call.id, referTo: target.uri, leg: transfer.leg, why: decision.why }, 'transfer: Refer-To left as it is');
        return target;
      }
      const randomAccount = decision.provider.accountToUse.kind === 'random'; // Flexisip warns too: "not implemented for call transfers yet"
      log[randomAccount ? 'warn' : 'info'](
        { callId: transfer.call.id, leg: transfer.leg, provider: decision.provider.name, account: decision.line.uri, referTo: target.uri, rewrittenTo: decision.uri },
        randomAccount ? 'transfer: Refer-To rewritten with a random account (accountToUse Random; use FindInPool to choose it)' : 'transfer: Refer-To rewritten',
      );
      return { uri: decision.uri, displayName: decision.displayName ?? target.displayName };
    } catch (e) {
      log.error({ callId: transfer.call.id, err: e }, 'transfer rewriting failed; Refer-To left as it is');
      return target;
    }
  });

  host.hooks.callEnded.tap(PLUGIN_NAME, ({ call }) => {
    try {
      ended.add(call);
      releaseSlot(call);
    } catch (e) {
      log.error({ callId: call.id, err: e }, 'releasing the line slot failed');
    }
  });

  // MWI (mwi.ts): SUBSCRIBEs bridged as an account; a pool's mwiServerUri subscribed by its registered accounts.
  const mwi = new Mwi({
    providers: config.providers, pools, sip: host.sip, log, random, timers: runtime.timers ?? realTimers,
    ...(sockets ? { transportOf: (line: Line) => sockets.of(line) } : {}),
  });
  host.hooks.subscribeTarget.tapPromise(PLUGIN_NAME, async (target, sub) => mwi.subscribeTarget(target, sub));
  host.hooks.registrationChanged.tap(PLUGIN_NAME, (event) => { if (event.plugin === PLUGIN_NAME) mwi.registrationChanged(event); });
  host.hooks.shutdown.tapPromise(PLUGIN_NAME, () => mwi.stop());

  let stopped = false;
  host.hooks.ready.tapPromise(PLUGIN_NAME, async () => {
    await firstLoads;
    if (sockets) {
      const all = [...pools.values()].flatMap((p) => p.lines);
      await sockets.openFor(all);
      await Promise.all(all.filter((l) => l.transportError !== undefined).map((l) => registrations.remove(l, undefined)));
    }
    registrations.start();
    redis?.start();
  });
  host.hooks.shutdown.tapPromise(PLUGIN_NAME, async () => {
    await redis?.stop();
    await registrations.stop();
    await Promise.allSettled([...loaders.values()].map((l) => l.stop()));
    await sockets?.closeAll();
    stopped = true;
  });

  const bridge: SipBridge = {
    config,
    pools,
    loaders,
    redis,
    info: () => bridgeInfo(config.providers, pools),
    accountUpdateNeeded: async (update) => {
      await Promise.all([...loaders.values()].map((l) => l.accountUpdateNeeded(update)));
    },
  };
  // Flexisip's SIP_BRIDGE INFO; a stopped bridge has no providers any more.
  host.admin.register(INFO_COMMAND, (): SipBridgeInfo => (stopped ? { providers: [] } : bridge.info()));
  return bridge;
}

export default definePlugin<SipBridgeOptions>({
  name: PLUGIN_NAME,
  hostApi: '^1.4.0', // host.admin (1.1.0), validate() returning warnings (1.2.0); LegBMedia.avpf, transferTarget, subscribeTarget, configFile (1.3.0); IncomingCall.annotate (1.4.0); openAccountTransport (1.5.0, TCP / TLS 1.6.0) optional: without it one-connection-per-account leaves the accounts unavailable; OutgoingSubscribe / SubscribeTarget transport (1.7.0): an older host sends MWI SUBSCRIBEs from its own socket
  configSchema: schema,
  async validate(options, { configDir, configFile }) {
    const loaded = await loadBridgeConfig(options.providers, configDir);
    // Warnings (`providers: <file>: <JSON path>: …`): unknown keys ignored, MatchRegex `source` ignored, a quoted displayName, a port dropped...
    if (!loaded.ok) return { problems: loaded.problems, warnings: loaded.warnings ?? [] };
    // SQL pools follow Redis account updates: [module::Registrar]'s redis-* keys are read, as Flexisip does, only then.
    const redis = [...loaded.value.pools.values()].some((p) => p.sql) ? readRedisParameters(configFile) : { problems: [], warnings: [] };
    const oneConnection = /^(true|1)$/i.test(configFile.section('b2bua-server')?.get('one-connection-per-account')?.trim() ?? '');
    const tls = listensOnTls(configFile.section('b2bua-server')?.get('transport') ?? '');
    const sockets = oneConnection ? accountTransportProblems(loaded.value.pools.values(), loaded.value.file, tls) : [];
    return { problems: [...redis.problems, ...sockets], warnings: [...loaded.value.warnings, ...redis.warnings] };
  },
  async apply(host) {
    await startSipBridge(host);
  },
});

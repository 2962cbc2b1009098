/**
 * sip-bridge: routes calls through external SIP provider accounts (trunking), Flexisip's providers JSON format.
 * Hooks: legBTarget (route or 488), legBMedia (provider's mediaEncryption), callEnded (release the line slot),
 * ready / shutdown (registrations). Admin command `SIP_BRIDGE INFO` (registered from apply()).
 */
import { CallRejection, definePlugin, PluginConfigError, rejectCall } from '../../core/plugin-api/index.js';
import type { IncomingCall, LegBMedia, LegBTarget, PluginHost } from '../../core/plugin-api/index.js';
import schema from './schema.json' with { type: 'json' };
import { buildPools } from './accounts.js';
import type { AccountPool, Slot } from './accounts.js';
import type { BridgeConfig, CompiledProvider } from './bridge-config.js';
import { bridgeInfo } from './info.js';
import type { SipBridgeInfo } from './info.js';
import { loadBridgeConfig } from './load.js';
import { Registrations } from './registration.js';
import type { Timers } from './registration.js';
import { routeCall } from './routing.js';
import { parseSipAddress } from './sip-uri.js';

export type { SipBridgeInfo } from './info.js';

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
}

/** A running bridge: its `info()` answers the admin command; returned for tests. */
export interface SipBridge {
  readonly config: BridgeConfig;
  readonly pools: ReadonlyMap<string, AccountPool>;
  info(): SipBridgeInfo;
}

/** Test seams; the server uses the defaults. */
export interface SipBridgeRuntime {
  random?: () => number;
  timers?: Timers;
  retryMs?: number;
  expiresSeconds?: number;
}

export async function startSipBridge(host: PluginHost<SipBridgeOptions>, runtime: SipBridgeRuntime = {}): Promise<SipBridge> {
  const loaded = await loadBridgeConfig(host.options.providers, host.configDir);
  // validate() ran before apply(); a problem here means the file changed in between or the host skipped validate().
  if (!loaded.ok) throw new PluginConfigError(loaded.problems);
  const config = loaded.value;
  const pools = buildPools(config.pools);
  // config.warnings are validate()'s: the host prints them in --check-config and logs them once at start-up.
  const log = host.log; // the host binds the plugin name already
  const random = runtime.random ?? Math.random;

  const registrations = new Registrations(
    [...pools.values()].flatMap((p) => p.lines.filter((l) => l.registrationRequired)),
    {
      sip: host.sip,
      log,
      timers: runtime.timers,
      retryMs: runtime.retryMs,
      expiresSeconds: runtime.expiresSeconds,
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
      {
        to: parseSipAddress(call.legA.to.uri, call.legA.to.displayName ?? ''),
        from: parseSipAddress(call.legA.from.uri, call.legA.from.displayName ?? ''),
        requestUri: parseSipAddress(call.legA.requestUri),
      },
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
    };
    call.data.set(PLUGIN_NAME, route);
    log.info({ callId: call.id, provider: route.provider, account: route.account, to: decision.target.to }, 'call bridged');
    return { ...target, ...decision.target };
  }

  function releaseSlot(call: IncomingCall): void {
    const route = call.data.get(PLUGIN_NAME) as CallRoute | undefined;
    route?.slot.release();
  }

  host.hooks.legBMedia.tapPromise(PLUGIN_NAME, async (media: LegBMedia, call) => {
    const forced = (call.data.get(PLUGIN_NAME) as CallRoute | undefined)?.mediaEncryption;
    if (!forced || forced === media.encryption) return media;
    const srtpSuites = forced !== 'sdes' ? [] : media.srtpSuites.length > 0 ? media.srtpSuites : [...DEFAULT_SDES_SUITES];
    return { encryption: forced, srtpSuites };
  });

  host.hooks.callEnded.tap(PLUGIN_NAME, ({ call }) => {
    try {
      ended.add(call);
      releaseSlot(call);
    } catch (e) {
      log.error({ callId: call.id, err: e }, 'releasing the line slot failed');
    }
  });

  let stopped = false;
  host.hooks.ready.tapPromise(PLUGIN_NAME, async () => registrations.start());
  host.hooks.shutdown.tapPromise(PLUGIN_NAME, async () => {
    await registrations.stop();
    stopped = true;
  });

  const bridge: SipBridge = { config, pools, info: () => bridgeInfo(config.providers, pools) };
  // Flexisip's SIP_BRIDGE INFO; a stopped bridge has no providers any more.
  host.admin.register(INFO_COMMAND, (): SipBridgeInfo => (stopped ? { providers: [] } : bridge.info()));
  return bridge;
}

export default definePlugin<SipBridgeOptions>({
  name: PLUGIN_NAME,
  hostApi: '^1.2.0', // host.admin (1.1.0), validate() returning warnings (1.2.0)
  configSchema: schema,
  async validate(options, { configDir }) {
    const loaded = await loadBridgeConfig(options.providers, configDir);
    // Warnings (`providers: <file>: <JSON path>: …`): unknown keys ignored, MatchRegex `source` ignored, a quoted displayName, a port dropped...
    return loaded.ok ? { problems: [], warnings: loaded.value.warnings } : { problems: loaded.problems, warnings: loaded.warnings ?? [] };
  },
  async apply(host) {
    await startSipBridge(host);
  },
});

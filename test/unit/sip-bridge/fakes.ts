/** Test doubles for the sip-bridge unit tests: a manual clock, a scripted host.sip, a host around createHooks(). */
import { deepEqual, fail, ok } from 'node:assert/strict';
import { parseConfigText } from '../../../core/config/load.js';
import { createHooks } from '../../../core/plugin-api/index.js';
import { parseIni } from '../../../core/config/ini.js';
import { configFileView, readValidation } from '../../../core/plugin-host/index.js';
import plugin, { type SipBridgeOptions } from '../../../plugins/sip-bridge/index.js';
import type {
  CallRecordValue, ConfigFileView, IncomingCall, IncomingNotifyView, Logger, OutgoingRequest, OutgoingSubscribe, PluginAdminApi, PluginHost, PluginSipApi, PluginSubscription,
  PluginSubscriptionState, SipResponseView,
} from '../../../core/plugin-api/index.js';
import type { PubSubConnector } from '../../../plugins/sip-bridge/redis/client.js';
import type { Timers } from '../../../plugins/sip-bridge/registration.js';
import { compileBridgeConfig } from '../../../plugins/sip-bridge/bridge-config.js';
import type { BridgeConfig } from '../../../plugins/sip-bridge/bridge-config.js';
import { parseProvidersText } from '../../../plugins/sip-bridge/providers-file.js';

/** The plugin's validate() as the host reads it: problems (fatal) and warnings. */
export async function validated(options: SipBridgeOptions, configDir: string, configFile: ConfigFileView = noConfigFile): Promise<{ problems: readonly string[]; warnings: readonly string[] }> {
  const read = readValidation(await plugin.validate!(options, { configDir, configFile }));
  return typeof read === 'string' ? fail(`validate() ${read}`) : read;
}

/** The Redis of the account updates in tests that do not exercise them: never reachable, no network. */
export const noRedis: PubSubConnector = () => Promise.reject(new Error('no Redis in this test'));

/** A configuration file with no other section than the plugin's. */
export const noConfigFile = configFileView(parseIni(''));

/** A providers file (its JSON value) compiled, asserting it has no problem. */
export function configOf(json: unknown): BridgeConfig {
  const file = parseProvidersText(JSON.stringify(json), '/test.json');
  ok(file.ok, JSON.stringify(file));
  const { config, problems } = compileBridgeConfig(file.value);
  deepEqual(problems, []);
  return config;
}

export class ManualTimers implements Timers {
  now = 0;
  private nextId = 1;
  private queue: { id: number; at: number; fn: () => void }[] = [];

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.queue.push({ id, at: this.now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.queue = this.queue.filter((t) => t.id !== handle);
  }

  get scheduled(): number[] {
    return this.queue.map((t) => t.at - this.now).sort((a, b) => a - b);
  }

  /** Move time forward, firing due timers in order and letting their promises settle. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const due = this.queue.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.queue = this.queue.filter((t) => t !== due);
      this.now = due.at;
      due.fn();
      await settle();
    }
    this.now = end;
    await settle();
  }
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

export function response(status: number, reason: string, headers: Record<string, string> = {}): SipResponseView {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { status, reason, body: '', header: (name) => lower[name.toLowerCase()] };
}

export class FakeSip implements PluginSipApi {
  readonly contact = 'sip:127.0.0.1:5070;transport=udp';
  readonly sent: OutgoingRequest[] = [];
  answer: (req: OutgoingRequest) => SipResponseView | Promise<SipResponseView> = () => response(200, 'OK');

  async request(req: OutgoingRequest): Promise<SipResponseView> {
    this.sent.push(structuredClone(req));
    return this.answer(req);
  }

  /** Subscriptions asked (host.sip.subscribe), in order; tests drive them with notify() / end(). */
  readonly subscriptions: FakeSubscription[] = [];

  subscribe(options: OutgoingSubscribe): PluginSubscription {
    const sub = new FakeSubscription(structuredClone(options));
    this.subscriptions.push(sub);
    return sub;
  }
}

/** A subscription of FakeSip: `notify()` hands a NOTIFY to the plugin, `end()` terminates it from the notifier's side. */
export class FakeSubscription implements PluginSubscription {
  state: PluginSubscriptionState = 'active';
  terminatedByPlugin = false;
  private readonly notifyHandlers: ((n: IncomingNotifyView) => void)[] = [];
  private readonly endHandlers: ((why: { readonly reason: string; readonly status?: number }) => void)[] = [];

  constructor(readonly options: OutgoingSubscribe) {}
  onNotify(handler: (n: IncomingNotifyView) => void): void { this.notifyHandlers.push(handler); }
  onTerminated(handler: (why: { readonly reason: string; readonly status?: number }) => void): void { this.endHandlers.push(handler); }
  async terminate(): Promise<void> { this.terminatedByPlugin = true; this.state = 'terminated'; }

  notify(n: { body: string; headers?: Record<string, string>; to?: string; from?: string; requestUri?: string }): void {
    const lower = Object.fromEntries(Object.entries(n.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const view: IncomingNotifyView = {
      requestUri: n.requestUri ?? 'sip:b2bua@127.0.0.1:5070', from: { uri: n.from ?? this.options.to ?? this.options.uri, params: { tag: 'n1' } },
      to: { uri: n.to ?? this.options.from, params: { tag: 's1' } }, state: 'active', header: (name) => lower[name.toLowerCase()],
      contentType: 'application/simple-message-summary', body: n.body,
    };
    for (const h of this.notifyHandlers) h(view);
  }

  end(reason: string, status?: number): void {
    this.state = 'terminated';
    for (const h of this.endHandlers) h(status === undefined ? { reason } : { reason, status });
  }
}

/** host.admin: the commands a plugin registered, by name. */
export class FakeAdmin implements PluginAdminApi {
  readonly commands = new Map<string, () => unknown>();

  register(command: string, run: () => unknown): void {
    if (this.commands.has(command)) throw new Error(`admin command "${command}" is already registered`);
    this.commands.set(command, run);
  }
}

export const silentLog: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLog };

export function fakeHost<O>(options: O, configDir: string, sip: PluginSipApi = new FakeSip()): PluginHost<O> & { readonly admin: FakeAdmin } {
  return {
    hooks: createHooks(), options, server: parseConfigText('', 'test.conf').config.server, configDir, log: silentLog, sip,
    media: { engine: 'relay', encryption: ['none'], srtpSuites: [], unavailable: {} }, admin: new FakeAdmin(), configFile: noConfigFile,
  };
}

let callCounter = 0;
/** An IncomingCall whose annotate() calls land in `decision`. */
export type FakeCall = IncomingCall & { readonly decision: ReadonlyMap<string, CallRecordValue> };

export function incomingCall(from: string, to: string, requestUri: string, fromName?: string): FakeCall {
  callCounter++;
  const decision = new Map<string, CallRecordValue>();
  return {
    id: `call-${callCounter}`,
    legA: {
      callId: `cid-${callCounter}`, requestUri,
      from: { uri: from, displayName: fromName, params: { tag: 'a' } },
      to: { uri: to, params: {} },
      header: () => undefined, transport: 'udp', source: { address: '127.0.0.1', port: 5060 },
    },
    offeredMedia: { encryption: 'none', srtpSuites: [], kinds: ['audio'] },
    data: new Map(),
    annotate: (key, value) => { decision.set(key, value); },
    decision,
  };
}

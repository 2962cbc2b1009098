/**
 * Account pools at run time: each account is a line with `maxCallsPerLine` slots and, when the pool requires it,
 * a registration state. A slot is held for a call's whole life and released exactly once. A pool filled by an SQL
 * loader changes at run time (add / reconfigure / remove, as Flexisip's AccountPool create / update / delete
 * operations): a removed line keeps the slots of its calls in progress and is never chosen again.
 */
import type { OutgoingRequest } from '../../core/plugin-api/index.js';
import type { AccountSpec, PoolSpec } from './bridge-config.js';
import type { StaticAccount } from './config-types.js';
import { parseSipAddress } from './sip-uri.js';
import type { UriParts } from './sip-uri.js';
import { accountValues } from './template.js';
import type { Template, TemplateValues } from './template.js';

export type RegistrationState = 'none' | 'registering' | 'registered' | 'failed' | 'unregistered';

export interface Slot {
  readonly line: Line;
  /** Gives the slot back; later calls do nothing. */
  release(): void;
}

export class Line {
  // Set by the constructor and reconfigure() only.
  account!: StaticAccount;
  /** The account's identity, a bare SIP URI. */
  uri!: string;
  alias: string | undefined;
  uriParts!: UriParts;
  templateValues!: TemplateValues;
  /** Where its REGISTERs and INVITEs go, and the Request-URI of its REGISTERs (bridge-config.ts works them out). */
  outboundProxy!: string;
  registrar!: string;
  /** Removed from its pool (SQL loader): its calls in progress keep their slots, new calls never get it. */
  removed = false;
  /** one-connection-per-account: why its own socket could not be opened (the line is unavailable then). */
  transportError: string | undefined;
  private busy = 0;
  /** `reason`: what failed, for logs and events ("403 Forbidden"); `status`: its SIP status (0: no answer, transport error). */
  registration: { state: RegistrationState; reason?: string | undefined; status?: number | undefined } = { state: 'none' };

  constructor(
    spec: AccountSpec,
    readonly pool: PoolSpec,
  ) {
    this.reconfigure(spec);
  }

  /**
   * Takes a new description of the account (same URI or not). Returns whether what its REGISTERs use changed
   * (credentials, registrar, outbound proxy, identity): then it has to register again.
   */
  reconfigure(spec: AccountSpec): boolean {
    const before = this.uri === undefined ? undefined : JSON.stringify([this.uri, this.outboundProxy, this.registrar, this.credentials]);
    this.account = spec.account;
    this.uri = spec.uri;
    this.outboundProxy = spec.outboundProxy;
    this.registrar = spec.registrar;
    this.alias = spec.account.alias || undefined;
    this.uriParts = parseSipAddress(spec.account.uri);
    this.templateValues = accountValues(spec.account.uri, this.alias);
    return before !== JSON.stringify([this.uri, this.outboundProxy, this.registrar, this.credentials]);
  }

  get registrationRequired(): boolean {
    return this.pool.config.registrationRequired;
  }

  get freeSlots(): number {
    return Math.max(0, this.pool.config.maxCallsPerLine - this.busy);
  }

  get busySlots(): number {
    return this.busy;
  }

  /** Digest credentials of the account (user = userid or URI user; secret as clear text or HA1), if it has a secret. */
  get credentials(): OutgoingRequest['credentials'] {
    const { secret, userid, realm, secretType = 'md5' } = this.account;
    if (secret === undefined || secret === '') return undefined;
    const username = userid || this.uriParts.user;
    const withRealm = realm ? { realm } : {};
    return secretType === 'clrtxt'
      ? { username, ...withRealm, password: secret }
      : { username, ...withRealm, ha1: secret, algorithm: secretType === 'sha256' ? 'SHA-256' : 'MD5' };
  }

  isAvailable(): boolean {
    return !this.removed && this.transportError === undefined && this.freeSlots > 0 && (!this.registrationRequired || this.registration.state === 'registered');
  }

  takeSlot(): Slot {
    this.busy++;
    let released = false;
    return {
      line: this,
      release: () => {
        if (released) return;
        released = true;
        this.busy--;
      },
    };
  }
}

export class AccountPool {
  /** By URI, in the order the accounts were listed or loaded. */
  private readonly byUri = new Map<string, Line>();
  private readonly views = new Map<Template, Map<string, Line>>();

  constructor(readonly spec: PoolSpec) {
    for (const a of spec.accounts) this.add(a);
  }

  get lines(): readonly Line[] {
    return [...this.byUri.values()];
  }

  get(uri: string): Line | undefined {
    return this.byUri.get(uri);
  }

  /** A new line, or undefined when the pool has this URI already (Flexisip's tryEmplace keeps the first, account-pool.cc:420). */
  add(spec: AccountSpec): Line | undefined {
    if (this.byUri.has(spec.uri)) return undefined;
    const line = new Line(spec, this.spec);
    this.byUri.set(spec.uri, line);
    this.views.clear();
    return line;
  }

  /** Reconfigures a line (see Line.reconfigure); false when its new URI is another line's (the update is refused). */
  update(line: Line, spec: AccountSpec): { ok: boolean; reregister: boolean } {
    if (spec.uri !== line.uri && this.byUri.has(spec.uri)) return { ok: false, reregister: false };
    const oldUri = line.uri;
    const reregister = line.reconfigure(spec);
    if (oldUri !== line.uri) {
      this.byUri.delete(oldUri);
      this.byUri.set(line.uri, line);
    }
    this.views.clear();
    return { ok: true, reregister };
  }

  remove(line: Line): void {
    if (this.byUri.get(line.uri) !== line) return;
    this.byUri.delete(line.uri);
    line.removed = true;
    this.views.clear();
  }

  get name(): string {
    return this.spec.name;
  }

  /** FindInPool: the account whose rendered `by` equals `key` (first one wins; empty renderings never match). */
  find(by: Template, key: string): Line | undefined {
    let view = this.views.get(by);
    if (!view) {
      view = new Map();
      for (const line of this.lines) {
        const rendered = by.render(line.templateValues);
        if (rendered !== '' && !view.has(rendered)) view.set(rendered, line);
      }
      this.views.set(by, view);
    }
    return view.get(key);
  }

  /** Random: a random starting point, then the first available account going round. */
  pickAvailable(random: () => number): Line | undefined {
    const n = this.lines.length;
    if (n === 0) return undefined;
    const start = Math.min(n - 1, Math.floor(random() * n));
    for (let i = 0; i < n; i++) {
      const line = this.lines[(start + i) % n]!;
      if (line.isAvailable()) return line;
    }
    return undefined;
  }
}

export function buildPools(specs: ReadonlyMap<string, PoolSpec>): Map<string, AccountPool> {
  return new Map([...specs].map(([name, spec]) => [name, new AccountPool(spec)]));
}

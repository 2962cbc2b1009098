/**
 * Account pools at run time: each account is a line with `maxCallsPerLine` slots and, when the pool requires it,
 * a registration state. A slot is held for a call's whole life and released exactly once.
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
  readonly account: StaticAccount;
  /** The account's identity, a bare SIP URI. */
  readonly uri: string;
  readonly alias: string | undefined;
  readonly uriParts: UriParts;
  readonly templateValues: TemplateValues;
  /** Where its REGISTERs and INVITEs go, and the Request-URI of its REGISTERs (bridge-config.ts works them out). */
  readonly outboundProxy: string;
  readonly registrar: string;
  private busy = 0;
  registration: { state: RegistrationState; reason?: string | undefined } = { state: 'none' };

  constructor(
    spec: AccountSpec,
    readonly pool: PoolSpec,
  ) {
    this.account = spec.account;
    this.uri = spec.uri;
    this.outboundProxy = spec.outboundProxy;
    this.registrar = spec.registrar;
    this.alias = spec.account.alias || undefined;
    this.uriParts = parseSipAddress(spec.account.uri);
    this.templateValues = accountValues(spec.account.uri, this.alias);
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
    return this.freeSlots > 0 && (!this.registrationRequired || this.registration.state === 'registered');
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
  readonly lines: readonly Line[];
  private readonly views = new Map<Template, Map<string, Line>>();

  constructor(readonly spec: PoolSpec) {
    this.lines = spec.accounts.map((a) => new Line(a, spec));
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

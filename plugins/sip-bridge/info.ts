/** The state of the bridge as Flexisip's `SIP_BRIDGE INFO` admin command prints it. */
import type { AccountPool, Line } from './accounts.js';
import type { CompiledProvider } from './bridge-config.js';

export interface AccountInfo {
  readonly address: string;
  readonly status: string;
  readonly registerEnabled?: boolean;
  readonly freeSlots?: number;
}

export interface SipBridgeInfo {
  readonly providers: readonly { readonly name: string; readonly accounts: readonly AccountInfo[] }[];
}

export function accountStatus(line: Line): string {
  if (!line.registrationRequired) return 'OK';
  switch (line.registration.state) {
    case 'registered':
      return 'OK';
    case 'none':
      return 'Should register';
    case 'registering':
      return 'Registration in progress';
    case 'failed':
      return `Registration failed: ${line.registration.reason ?? 'unknown reason'}`;
    case 'unregistered':
      return 'Unregistered';
  }
}

export function bridgeInfo(providers: readonly CompiledProvider[], pools: ReadonlyMap<string, AccountPool>): SipBridgeInfo {
  return {
    providers: providers.map((p) => ({
      name: p.name,
      accounts: (pools.get(p.poolName)?.lines ?? []).map((line) => {
        const status = accountStatus(line);
        return status === 'OK'
          ? { address: line.uri, status, registerEnabled: line.registrationRequired, freeSlots: line.freeSlots }
          : { address: line.uri, status };
      }),
    })),
  };
}

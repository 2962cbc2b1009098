/** The providers JSON file as written by operators (Flexisip's formats), after schema validation. */
import type { EncryptionMode } from '../../core/plugin-api/index.js';

export interface V1Account {
  uri: string;
  userid?: string;
  password?: string;
}

export interface V1Provider {
  name: string;
  pattern: string;
  outboundProxy?: string;
  registrationRequired?: boolean;
  maxCallsPerLine?: number;
  accounts: V1Account[];
  enableAvpf?: boolean;
  mediaEncryption?: EncryptionMode;
}

export type V1Root = V1Provider[];

export type SecretType = 'md5' | 'sha256' | 'clrtxt';

export interface StaticAccount {
  uri: string;
  userid?: string;
  secret?: string;
  secretType?: SecretType;
  realm?: string;
  alias?: string;
  outboundProxy?: string;
  registrar?: string;
  protocol?: 'udp' | 'tcp' | 'tls';
  /** This account's message-waiting server (overrides the pool's mwiServerUri). */
  mwiServerUri?: string;
}

export interface SqlLoader {
  dbBackend: string;
  initQuery: string;
  updateQuery: string;
  connection: string;
  threadPoolSize?: number;
}

export interface AccountPoolConfig {
  outboundProxy?: string;
  registrar?: string;
  registrationRequired: boolean;
  maxCallsPerLine: number;
  loader: StaticAccount[] | SqlLoader;
  registrationThrottlingRateMs?: number;
  mwiServerUri?: string;
  unregisterOnServerShutdown?: boolean;
}

export type TriggerCondition = { strategy: 'Always' } | { strategy: 'MatchRegex'; pattern: string; source?: string };
export type AccountToUse = { strategy: 'Random' } | { strategy: 'FindInPool'; by: string; source: string };

export interface OutgoingInvite {
  to: string;
  from?: string;
  outboundProxy?: string;
  enableAvpf?: boolean;
  mediaEncryption?: EncryptionMode;
}

export interface ProviderConfig {
  name: string;
  accountPool: string;
  triggerCondition: TriggerCondition;
  accountToUse: AccountToUse;
  onAccountNotFound: 'nextProvider' | 'decline';
  outgoingInvite: OutgoingInvite;
  outgoingNotify?: { outboundProxy: string };
}

export interface V2Root {
  schemaVersion: 2;
  providers: ProviderConfig[];
  accountPools: Record<string, AccountPoolConfig>;
}

/** The validated, frozen `[b2bua-server]` section (kebab-case keys turned camelCase). */
import type { PortRange } from '../vocabulary/index.js';

export interface B2buaServerConfig {
  readonly application: string;
  readonly transport: string;
  readonly outboundProxy: string;
  readonly userAgent: string;
  readonly audioPort: PortRange;
  readonly videoPort: PortRange;
  readonly noRtpTimeout: number;
  readonly maxCallDuration: number;
  readonly maxCalls: number;
  readonly enableKeepalive: boolean;
  readonly enableIce: boolean;
  readonly natAddresses: readonly string[];
  readonly audioCodec: string;
  readonly videoCodec: string;
  readonly dataDirectory: string;
  readonly oneConnectionPerAccount: boolean;
  /** Our extensions (documented in the README), e.g. TLS files, plugin directories, media workers. */
  readonly [extension: string]: unknown;
}

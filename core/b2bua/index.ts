/** The back-to-back framework's entry point, used by the daemon. */
import { B2buaServerImpl } from './server.js';
import type { B2buaServer, B2buaServerOptions } from './types.js';

export type { B2buaServer, B2buaServerOptions, ServerCounters, TlsFiles } from './types.js';

export function createB2buaServer(options: B2buaServerOptions): B2buaServer {
  return new B2buaServerImpl(options);
}

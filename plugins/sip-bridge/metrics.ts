/** sip-bridge's gauges on /metrics (host API 1.4.0): registrations by state, free call slots per pool. */
import type { PluginMetricsApi } from '../../core/plugin-api/index.js';
import type { AccountPool, RegistrationState } from './accounts.js';

const STATES: readonly RegistrationState[] = ['none', 'registering', 'registered', 'failed', 'unregistered'];

export function registerBridgeGauges(metrics: PluginMetricsApi, pools: ReadonlyMap<string, AccountPool>): void {
  metrics.gauge({
    name: 'registrations', help: 'Accounts that register (registrationRequired), by registration state.', labelNames: ['state'],
    collect: () => {
      const counts = new Map(STATES.map((s) => [s, 0]));
      for (const pool of pools.values()) {
        for (const line of pool.lines) if (line.registrationRequired && !line.removed) counts.set(line.registration.state, (counts.get(line.registration.state) ?? 0) + 1);
      }
      return [...counts].map(([state, value]) => ({ labels: { state }, value }));
    },
  });
  metrics.gauge({
    name: 'free_lines', help: 'Free call slots of the pool\'s accounts that can take a call now (registered when they must be).', labelNames: ['pool'],
    collect: () => [...pools.values()].map((pool) => ({
      labels: { pool: pool.name },
      value: pool.lines.reduce((n, l) => n + (l.isAvailable() ? l.freeSlots : 0), 0),
    })),
  });
}

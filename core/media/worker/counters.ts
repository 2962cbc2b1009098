/** Per-stream packet counters of the media worker: what one pipeline reports, summed across pipeline rebuilds. */
import type { StreamStats } from '../types.js';

export type Counters = { -readonly [K in keyof Omit<StreamStats, 'index' | 'kind' | 'security' | 'iceNominated'>]-?: number };

export const zero = (): Counters => ({
  packetsIn: 0, bytesIn: 0, packetsOut: 0, bytesOut: 0, srtpAuthFailures: 0, srtpReplays: 0, rejectedSource: 0, packetsLost: 0, lastPacketAt: 0,
  iceChecksAnswered: 0, iceChecksRefused: 0, rejectedWrongAddress: 0, rejectedWrongPort: 0, rejectedUnauthenticated: 0, relatches: 0,
});

export function add(x: Counters, y: Counters): Counters {
  return {
    packetsIn: x.packetsIn + y.packetsIn, bytesIn: x.bytesIn + y.bytesIn,
    packetsOut: x.packetsOut + y.packetsOut, bytesOut: x.bytesOut + y.bytesOut,
    srtpAuthFailures: x.srtpAuthFailures + y.srtpAuthFailures, srtpReplays: x.srtpReplays + y.srtpReplays,
    rejectedSource: x.rejectedSource + y.rejectedSource, packetsLost: x.packetsLost + y.packetsLost, lastPacketAt: Math.max(x.lastPacketAt, y.lastPacketAt),
    iceChecksAnswered: x.iceChecksAnswered + y.iceChecksAnswered, iceChecksRefused: x.iceChecksRefused + y.iceChecksRefused,
    rejectedWrongAddress: x.rejectedWrongAddress + y.rejectedWrongAddress, rejectedWrongPort: x.rejectedWrongPort + y.rejectedWrongPort,
    rejectedUnauthenticated: x.rejectedUnauthenticated + y.rejectedUnauthenticated, relatches: x.relatches + y.relatches,
  };
}

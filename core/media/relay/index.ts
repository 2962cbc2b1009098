/**
 * The plain RTP relay (`media-engine = relay`): node dgram sockets, no transcoding, no SRTP.
 * One RTP + one RTCP socket per leg/stream; symmetric RTP with latching; per-stream statistics;
 * `leg-silent` after noRtpTimeoutMs without RTP. RFC 4733 telephone-events are relayed like any other RTP, except towards a leg
 * that did not negotiate telephone-event: then they are reported (`dtmf` events) and dropped, and sendDtmf() injects them.
 */
import type { Logger } from '../../vocabulary/index.js';
import type { B2buaServerConfig } from '../../config/server-config.js';
import { familyAddresses } from '../addresses.js';
import type { MediaEngine, MediaSession, MediaSessionOptions } from '../types.js';
import { RelaySession, type RelayBinders } from './session.js';
import { PortRangeBinder } from './sockets.js';

export async function createRelayEngine(config: B2buaServerConfig, log: Logger): Promise<MediaEngine> {
  const addresses = familyAddresses(config);
  const byFamily = new Map([4, 6].map((f) => {
    const a = addresses.forFamily(f as 4 | 6);
    return [f, { advertised: a.advertised, audio: new PortRangeBinder(config.audioPort, a.bind, 'audio-port'), video: new PortRangeBinder(config.videoPort, a.bind, 'video-port') }];
  }));
  const binders = (family: 4 | 6 | undefined): RelayBinders => byFamily.get(family ?? addresses.defaultFamily)!;
  const sessions = new Set<RelaySession>();
  let nextId = 1;
  return {
    name: 'relay',
    capabilities: {
      encryption: ['none'],
      srtpSuites: [],
      unavailable: Object.fromEntries(
        (['sdes', 'dtls-srtp', 'zrtp'] as const).map((mode) => [mode, 'the relay media engine carries plain RTP only (set media-engine=gstreamer)']),
      ),
    },
    async createSession(options: MediaSessionOptions): Promise<MediaSession> {
      const session = new RelaySession(`relay-${nextId++}`, options, binders, log.child({ callId: options.callId }), () => sessions.delete(session));
      sessions.add(session);
      return session;
    },
    counters: () => ({ sessions: sessions.size, portsInUse: [...sessions].reduce((n, s) => n + s.portsInUse, 0) }),
    async close() {
      await Promise.all([...sessions].map((s) => s.close()));
    },
  };
}

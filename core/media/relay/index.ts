/**
 * The plain RTP relay (`media-engine = relay`): node dgram sockets, no transcoding, no SRTP.
 * One RTP + one RTCP socket per leg/stream; symmetric RTP with latching; per-stream statistics;
 * `leg-silent` after noRtpTimeoutMs without RTP. RFC 4733 telephone-events are relayed like any other RTP, except towards a leg
 * that did not negotiate telephone-event: then they are reported (`dtmf` events) and dropped, and sendDtmf() injects them.
 */
import type { Logger } from '../../vocabulary/index.js';
import type { B2buaServerConfig } from '../../config/server-config.js';
import { mediaAddresses } from '../addresses.js';
import type { MediaEngine, MediaSession, MediaSessionOptions } from '../types.js';
import { RelaySession } from './session.js';
import { PortRangeBinder } from './sockets.js';

export async function createRelayEngine(config: B2buaServerConfig, log: Logger): Promise<MediaEngine> {
  const addresses = mediaAddresses(config);
  const binders = {
    audio: new PortRangeBinder(config.audioPort, addresses.bind, 'audio-port'),
    video: new PortRangeBinder(config.videoPort, addresses.bind, 'video-port'),
  };
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
      const session = new RelaySession(`relay-${nextId++}`, options, binders, addresses.advertised, log.child({ callId: options.callId }), () => sessions.delete(session));
      sessions.add(session);
      return session;
    },
    counters: () => ({ sessions: sessions.size, portsInUse: [...sessions].reduce((n, s) => n + s.portsInUse, 0) }),
    async close() {
      await Promise.all([...sessions].map((s) => s.close()));
    },
  };
}

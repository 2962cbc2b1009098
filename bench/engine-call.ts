/**
 * One SDES → SDES call through our media engine as the media benchmarks place it: leg A AES_CM_128_HMAC_SHA1_80,
 * leg B AES_CM_128_HMAC_SHA1_32, one rtcp-mux audio stream per leg, a load side on each (bench/srtp-load.ts).
 */
import { generateSrtpKey } from '../core/media/sdes.js';
import type { MediaEngine, MediaSession, SrtpKey, StreamParams } from '../core/media/types.js';
import { type LoadSide, sidePair } from './srtp-load.js';

export const SUITE_A = 'AES_CM_128_HMAC_SHA1_80' as const;
export const SUITE_B = 'AES_CM_128_HMAC_SHA1_32' as const;

const streamTo = (port: number, srtp: { send: SrtpKey; recv: SrtpKey }): StreamParams => ({
  index: 0, kind: 'audio', enabled: true, rtcpMux: true, direction: 'sendrecv', encryption: 'sdes', srtp,
  remote: { address: '127.0.0.1', rtpPort: port, rtcpPort: port },
});

/** Call `i`: its session and its two sides, each ready to send `packets` packets. */
export async function openEngineCall(engine: MediaEngine, i: number, packets: number): Promise<{ session: MediaSession; sides: [LoadSide, LoadSide] }> {
  const session = await engine.createSession({ callId: `bench-${i}`, noRtpTimeoutMs: 30_000 });
  const legA = { send: generateSrtpKey(SUITE_A), recv: generateSrtpKey(SUITE_A) };
  const legB = { send: generateSrtpKey(SUITE_B), recv: generateSrtpKey(SUITE_B) };
  const [a, b] = await sidePair();
  a.relayPort = (await session.allocate('a', 0, 'audio')).rtpPort;
  b.relayPort = (await session.allocate('b', 0, 'audio')).rtpPort;
  await session.configure('a', { streams: [streamTo(a.port, legA)] });
  await session.configure('b', { streams: [streamTo(b.port, legB)] });
  // Each side encrypts with what the engine decrypts on its leg, and checks with what it encrypts.
  a.prepare(packets, 0xa0000 + i, legA.recv, legA.send);
  b.prepare(packets, 0xb0000 + i, legB.recv, legB.send);
  return { session, sides: [a, b] };
}

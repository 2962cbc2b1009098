/**
 * The GStreamer media engine (`media-engine = gstreamer`): pipelines live in media worker
 * processes (core/media/worker), one per core by default (`media-workers`), so that a
 * GStreamer fault never takes SIP signalling down and calls spread over cores.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { b2buaError, errorReason } from '../../errors/index.js';
import { PACKAGE_ROOT } from '../../paths.js';
import { SRTP_SUITES, type Logger, type SrtpSuite } from '../../vocabulary/index.js';
import type { B2buaServerConfig } from '../../config/server-config.js';
import { familyAddresses } from '../addresses.js';
import { loadDtlsCertificate, type DtlsCertificate } from '../dtls-certificate.js';
import type { MediaEngine, MediaEngineCounters, MediaHealth, MediaLoad, MediaSession, MediaSessionOptions } from '../types.js';
import { PortPool } from './port-pool.js';
import { GstMediaSession, toB2buaError } from './session.js';
import { WorkerPool, type WorkerSlot } from './worker-pool.js';
import { REFUSED_SUITES } from '../worker/suites.js';

export { REFUSED_SUITES as GST_REFUSED_SUITES };

export const NATIVE_PLUGIN_DIR = path.join(PACKAGE_ROOT, 'core', 'native', 'build');
const ACQUIRE_WAIT_MS = 5_000;
/** The ZRTP retained-secret cache (bzrtp's SQLite schema), under data-directory. */
export const ZID_CACHE_FILE = 'zrtp-cache.sqlite';

function certificateOf(config: B2buaServerConfig): { certificate?: DtlsCertificate; problem?: string } {
  try {
    return { certificate: loadDtlsCertificate(config.dataDirectory) };
  } catch (e) {
    return { problem: errorReason(e) };
  }
}

/** A worker that does not answer a ping within this is reported sick by /health. */
const HEALTH_PROBE_TIMEOUT_MS = 1000;

export function workerCount(config: B2buaServerConfig): number {
  return config.mediaWorkers > 0 ? config.mediaWorkers : os.availableParallelism();
}

class GstMediaEngine implements MediaEngine {
  readonly name = 'gstreamer';
  capabilities: MediaEngine['capabilities'] = { encryption: ['none', 'sdes'], srtpSuites: [] };
  private readonly sessions = new Map<string, GstMediaSession>();
  private readonly pools;
  private readonly addresses;
  private readonly workers: WorkerPool;
  private nextId = 1;
  private readonly certificate: DtlsCertificate | undefined;
  private readonly certificateProblem: string | undefined;
  private readonly failures = { dtls: 0, zrtp: 0 };

  constructor(config: B2buaServerConfig, private readonly log: Logger) {
    this.pools = { audio: new PortPool(config.audioPort), video: new PortPool(config.videoPort) };
    this.addresses = familyAddresses(config);
    ({ certificate: this.certificate, problem: this.certificateProblem } = certificateOf(config));
    this.workers = new WorkerPool({
      count: workerCount(config),
      pluginDir: NATIVE_PLUGIN_DIR,
      security: { dtlsPem: this.certificate?.pem ?? '', zidCachePath: path.join(config.dataDirectory, ZID_CACHE_FILE) },
      log,
      onEvent: (slot, e) => {
        if (e.type === 'log') log[e.level]({ worker: slot.index, ...e.fields }, e.msg);
        else {
          if (e.event.type === 'failed' && e.event.handshake) this.failures[e.event.handshake]++;
          this.sessions.get(e.sessionId)?.emit(e.event);
        }
      },
      onDeath: (_slot, ids, reason) => {
        for (const id of ids) this.sessions.get(id)?.workerDied(`media worker died (${reason})`);
      },
    });
  }

  async start(): Promise<void> {
    try {
      const infos = await Promise.all(this.workers.slots.map((s) => s.ready));
      const suites = infos[0]!.srtpSuites.filter((s): s is SrtpSuite => (SRTP_SUITES as readonly string[]).includes(s) && !(s in REFUSED_SUITES));
      const built = infos[0]!.handshakes;
      const unavailable: Partial<Record<'dtls-srtp' | 'zrtp', string>> = {};
      if (!built.includes('dtls-srtp')) unavailable['dtls-srtp'] = 'the b2bdtls element is missing from the native plugin (rebuild with "make -C core/native")';
      else if (!this.certificate) unavailable['dtls-srtp'] = `no DTLS-SRTP certificate: ${this.certificateProblem ?? 'unknown'}`;
      if (!built.includes('zrtp')) unavailable.zrtp = 'the b2bzrtp element is missing from the native plugin (rebuild with "make -C core/native" with libbzrtp-dev installed)';
      const handshakes = (['dtls-srtp', 'zrtp'] as const).filter((m) => !(m in unavailable));
      this.capabilities = { encryption: ['none', 'sdes', ...handshakes], srtpSuites: suites, ice: true, unavailable: { ...REFUSED_SUITES, ...unavailable } };
      for (const [mode, why] of Object.entries(unavailable)) this.log.warn({ mode, why }, 'media encryption mode unavailable: calls needing it get 488');
      if (infos[0]!.srtpCrypto !== 'openssl') {
        this.log.warn({ srtpCrypto: infos[0]!.srtpCrypto }, "SRTP runs on libsrtp's own AES-CM / HMAC-SHA1 (libsrtp refused OpenSSL's: see the worker's stderr); expect about 3x the media CPU");
      }
      this.log.info({
        workers: infos.length, gstreamer: infos[0]!.gstVersion, encryption: this.capabilities.encryption, srtpSuites: suites, srtpCrypto: infos[0]!.srtpCrypto,
        address: { ipv4: this.addresses.forFamily(4), ipv6: this.addresses.forFamily(6) },
        ...(this.certificate ? { dtlsCertificate: this.certificate.file, dtlsFingerprint: this.certificate.fingerprint } : {}),
      }, 'gstreamer media engine ready');
    } catch (e) {
      await this.workers.close();
      throw b2buaError('B2BUA_MEDIA_UNSUPPORTED', { problem: `gstreamer media engine cannot start: ${errorReason(e)} (run scripts/setup.sh, or set media-engine=relay)` }, { cause: e });
    }
  }

  private async acquire(): Promise<WorkerSlot> {
    const deadline = Date.now() + ACQUIRE_WAIT_MS;
    for (;;) {
      const slot = this.workers.pick();
      if (slot) {
        await slot.ready;
        return slot;
      }
      if (Date.now() > deadline) throw b2buaError('B2BUA_MEDIA_FAILED', { problem: 'no media worker is running (they keep dying: see the media worker errors above)' });
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async createSession(options: MediaSessionOptions): Promise<MediaSession> {
    const id = `m${process.pid}-${this.nextId++}`;
    try {
      const slot = await this.acquire();
      const session = new GstMediaSession(id, options.callId, {
        slot,
        pools: this.pools,
        addresses: (family) => this.addresses.forFamily(family),
        dtlsFingerprint: this.certificate?.fingerprint,
        log: this.log,
        onClosed: (sid) => this.sessions.delete(sid),
      });
      slot.sessions.add(id);
      this.sessions.set(id, session);
      try {
        await slot.channel.request('createSession', { sessionId: id, callId: options.callId, noRtpTimeoutMs: options.noRtpTimeoutMs });
      } catch (e) {
        slot.sessions.delete(id);
        this.sessions.delete(id);
        throw e;
      }
      return session;
    } catch (e) {
      throw toB2buaError(e, `media session for call ${options.callId}`);
    }
  }

  counters(): MediaEngineCounters {
    return {
      sessions: this.sessions.size, portsInUse: this.pools.audio.inUse + this.pools.video.inUse, dtlsFailures: this.failures.dtls, zrtpFailures: this.failures.zrtp,
      workerRestarts: this.workers.restarts,
    };
  }

  load(): MediaLoad {
    const now = Date.now();
    return {
      workers: this.workers.slots.map((s) => ({
        alive: s.channel.alive, pending: s.channel.pendingRequests, latencyMs: s.channel.recentLatencyMs(now), sessions: s.sessions.size,
      })),
    };
  }

  health(): Promise<MediaHealth> {
    return this.workers.health(HEALTH_PROBE_TIMEOUT_MS);
  }

  /** Test hook: kill the worker holding `sessionId` (simulates a GStreamer crash). */
  async crashWorkerOf(sessionId: string): Promise<void> {
    const slot = this.workers.slots.find((s) => s.sessions.has(sessionId));
    if (slot) await slot.channel.request('crash', {}).catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.close().catch(() => undefined)));
    await this.workers.close();
  }
}

export type { GstMediaEngine };

export async function createGstEngine(config: B2buaServerConfig, log: Logger): Promise<MediaEngine & { crashWorkerOf(sessionId: string): Promise<void> }> {
  if (!existsSync(path.join(NATIVE_PLUGIN_DIR, 'libgstb2bua.so'))) {
    throw b2buaError('B2BUA_MEDIA_UNSUPPORTED', {
      problem: `the b2bua GStreamer plugin is not built (${NATIVE_PLUGIN_DIR}/libgstb2bua.so missing): run "make -C core/native" (scripts/setup.sh does), or set media-engine=relay`,
    });
  }
  const engine = new GstMediaEngine(config, log);
  await engine.start();
  return engine;
}

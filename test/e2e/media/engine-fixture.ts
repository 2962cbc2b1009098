/**
 * What the engine-level e2e files share: an engine configuration made from the loader's defaults (so a new
 * [b2bua-server] key never needs a test edit), and one GStreamer engine per describe whose endpoints and sessions
 * are closed after it.
 */
import { parseConfigText } from '../../../core/config/load.js';
import { createGstEngine } from '../../../core/media/gst/index.js';
import type { MediaEngine, MediaSession, MediaSessionOptions } from '../../../core/media/types.js';
import { silentLogger } from '../../../core/log/index.js';
import type { B2buaServerConfig } from '../../../core/plugin-api/index.js';
import { TestEndpoint } from './endpoint.js';

const DEFAULTS = parseConfigText('', 'test.conf').config.server;

/** The defaults with ephemeral media ports, one worker and no ICE, then `overrides`. */
export function engineConfig(overrides: Partial<B2buaServerConfig> = {}): B2buaServerConfig {
  return Object.freeze({
    ...DEFAULTS,
    application: 'test', transport: 'sip:127.0.0.1:5060;transport=udp', userAgent: 'test',
    audioPort: { min: 0, max: 0 }, videoPort: { min: 0, max: 0 }, enableIce: false, dataDirectory: '/tmp',
    mediaEngine: 'gstreamer', mediaWorkers: 1,
    ...overrides,
  });
}

export interface EngineFixture<E extends MediaEngine> {
  /** Set once the describe's `before` ran. */
  readonly engine: E;
  /** A test endpoint on `address`, closed after the describe. */
  open(address?: string): Promise<TestEndpoint>;
  /** A session of the engine, closed after the describe. */
  session(options: MediaSessionOptions): Promise<MediaSession>;
}

/** Registers before/after hooks in the calling describe: one engine for all its tests. */
export function useGstEngine<E extends MediaEngine = MediaEngine>(overrides: Partial<B2buaServerConfig> = {}): EngineFixture<E> {
  let engine: E | undefined;
  const endpoints: TestEndpoint[] = [];
  const sessions: MediaSession[] = [];
  before(async () => {
    engine = await createGstEngine(engineConfig(overrides), silentLogger()) as unknown as E;
  });
  after(async () => {
    for (const e of endpoints) e.close();
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    await engine?.close();
  });
  return {
    get engine(): E {
      if (!engine) throw new Error('the engine is created in before(): use it inside a test');
      return engine;
    },
    async open(address?: string) {
      const ep = await TestEndpoint.open(address);
      endpoints.push(ep);
      return ep;
    },
    async session(options: MediaSessionOptions) {
      const s = await this.engine.createSession(options);
      sessions.push(s);
      return s;
    },
  };
}

/**
 * Media engine selection (`[b2bua-server] media-engine`). Engines are loaded lazily so that
 * a machine without GStreamer can still run the plain relay.
 */
import type { Logger } from '../vocabulary/index.js';
import type { B2buaServerConfig } from '../config/server-config.js';
import type { MediaEngine } from './types.js';

export async function createMediaEngine(config: B2buaServerConfig, log: Logger): Promise<MediaEngine> {
  switch (config.mediaEngine) {
    case 'relay': {
      const { createRelayEngine } = await import('./relay/index.js');
      return createRelayEngine(config, log.child({ component: 'media-relay' }));
    }
    case 'gstreamer': {
      const { createGstEngine } = await import('./gst/index.js');
      return createGstEngine(config, log.child({ component: 'media-gst' }));
    }
  }
}

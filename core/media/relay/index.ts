// Placeholder until the engine lands; replaced by the real implementation.
import { B2buaError } from '../../errors/index.js';
import type { B2buaServerConfig, Logger } from '../../plugin-api/index.js';
import type { MediaEngine } from '../types.js';

export async function createRelayEngine(_config: B2buaServerConfig, _log: Logger): Promise<MediaEngine> {
  throw new B2buaError('B2BUA_MEDIA_UNSUPPORTED', 'media engine "relay" is not built yet');
}

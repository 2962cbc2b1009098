/**
 * Our small Redis subscriber interface and its one implementation (ioredis). The account updates
 * (../redis-updates.ts) see only `PubSubConnector`: the library can be swapped or fixed here, and tests use a fake.
 * One connection = one TCP session: connect (and authenticate), SUBSCRIBE, PING; nothing reconnects by itself
 * (ioredis' own reconnection, offline queue and resubscription are off): the caller owns retries and backoff.
 */
import { Redis } from 'ioredis';
import type { RedisParameters } from './parameters.js';

export interface PubSubEvents {
  /** A published message (the raw bytes: the caller checks their size before decoding). */
  message(channel: string, message: Buffer): void;
  /** The connection is gone (after connect() resolved); called at most once, never after close(). */
  closed(reason: string): void;
}

export interface PubSubConnection {
  /** SUBSCRIBE; resolves with the number of channels this session is subscribed to. */
  subscribe(channel: string): Promise<number>;
  /** PING (allowed in subscriber mode); rejects when no answer within timeoutMs. */
  ping(timeoutMs: number): Promise<void>;
  /** Closes the session; no event follows. */
  close(): void;
}

/** Resolves once connected and authenticated (rejects with the reason, nothing to close then). */
export type PubSubConnector = (parameters: RedisParameters, events: PubSubEvents, connectTimeoutMs: number) => Promise<PubSubConnection>;

export const ioredisConnector: PubSubConnector = async (parameters, events, connectTimeoutMs) => {
  const auth = parameters.auth;
  const redis = new Redis({
    host: parameters.host,
    port: parameters.port,
    ...(auth.kind === 'acl' ? { username: auth.user, password: auth.password } : auth.kind === 'legacy' ? { password: auth.password } : {}),
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    retryStrategy: () => null,
    reconnectOnError: null,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    keepAlive: 10_000,
    showFriendlyErrorStack: false,
  });
  let lastError: string | undefined;
  let done = false;
  redis.on('error', (e: Error) => {
    lastError = e.message; // reported by 'close' (ioredis emits 'error' then 'close'); never thrown
  });
  try {
    await redis.connect();
  } catch (e) {
    done = true;
    redis.disconnect();
    throw new Error(lastError ?? (e as Error).message);
  }
  redis.on('messageBuffer', (channel: Buffer, message: Buffer) => {
    if (!done) events.message(channel.toString(), message);
  });
  redis.on('close', () => {
    if (done) return;
    done = true;
    events.closed(lastError ?? 'the server closed the connection');
  });
  return {
    async subscribe(channel) {
      const count = await redis.subscribe(channel);
      return Number(count);
    },
    async ping(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          redis.ping(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer to PING within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      done = true;
      redis.disconnect();
    },
  };
};

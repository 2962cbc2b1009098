/**
 * Random bytes for SIP identifiers (branches, tags, Call-IDs) from one pooled buffer: one randomFillSync of 4 KB
 * instead of one randomBytes call (and buffer) per identifier. The bytes are the same CSPRNG's, each used once.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;

export class RandomPool {
  private readonly pool: Buffer;
  private offset: number;

  constructor(size = POOL_BYTES) {
    this.pool = Buffer.allocUnsafe(size);
    this.offset = size;
  }

  /** `bytes` random bytes as base64url (`bytes` ≤ the pool's size). */
  token(bytes: number): string {
    if (bytes > this.pool.length) throw new RangeError(`RandomPool: ${bytes} bytes asked, the pool holds ${this.pool.length}`);
    if (this.offset + bytes > this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const start = this.offset;
    this.offset += bytes;
    return this.pool.toString('base64url', start, this.offset);
  }
}

const shared = new RandomPool();

/** Cryptographically random token of `bytes` bytes, base64url (tags, branch ids, Call-IDs). */
export function pooledToken(bytes: number): string {
  return shared.token(bytes);
}

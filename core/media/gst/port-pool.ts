/**
 * RTP port bookkeeping for one `audio-port` / `video-port` range, shared by all workers so
 * that they do not race for the same ports. RTCP takes rtpPort + 1. A range of 0 means the
 * kernel picks (the workers bind port 0).
 */
import type { PortRange } from '../../vocabulary/index.js';

export class PortPool {
  private readonly used = new Set<number>();
  private cursor: number;
  private readonly first: number;
  private readonly step: number;

  constructor(readonly range: PortRange) {
    // Even RTP ports (RFC 3550 habit) unless the range is a single port.
    this.step = range.max > range.min ? 2 : 1;
    this.first = this.step === 2 && range.min % 2 === 1 ? range.min + 1 : range.min;
    this.cursor = this.first;
  }

  get kernelPicks(): boolean {
    return this.range.min === 0;
  }

  get inUse(): number {
    return this.used.size;
  }

  /** Up to `limit` RTP ports to try, in rotating order, whose pair is not in use here. */
  candidates(limit: number): number[] {
    if (this.kernelPicks) return [0];
    const out: number[] = [];
    const slots = Math.floor((this.range.max - this.first) / this.step) + 1;
    for (let i = 0; i < slots && out.length < limit; i++) {
      const port = this.cursor;
      this.cursor = port + this.step > this.range.max ? this.first : port + this.step;
      if (port + 1 > 65535) continue;
      if (!this.used.has(port) && !this.used.has(port + 1)) out.push(port);
    }
    return out;
  }

  take(...ports: number[]): void {
    for (const p of ports) this.used.add(p);
  }

  release(...ports: number[]): void {
    for (const p of ports) this.used.delete(p);
  }
}

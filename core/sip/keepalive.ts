/**
 * `enable-keepalive` as liblinphone does for Flexisip's B2BUA: every 30 s a CRLF keep-alive ("\r\n\r\n", RFC 5626
 * §3.5.1 / §4.4.1) to each peer we sent a request to in the last hour (outbound proxies, registrars, dialog peers),
 * so NAT bindings and stream connections to them stay up. Only destinations of requests we originated are kept:
 * nothing a peer sends us can make us send keep-alives to a third party. On a stream transport the ping goes on the
 * open connection only (a keep-alive never opens one). Bounded: at most MAX_TARGETS destinations, oldest dropped.
 */
import type { HostPort, Transport } from './transport.js';

export const KEEPALIVE_PERIOD_MS = 30_000;
/** A destination we have not sent a request to for this long gets no more keep-alives. */
export const KEEPALIVE_RETENTION_MS = 3_600_000;
export const MAX_KEEPALIVE_TARGETS = 10_000;
export const CRLF_PING = Buffer.from('\r\n\r\n', 'latin1');

interface Target {
  readonly transport: Transport;
  readonly to: HostPort;
  lastRequestAt: number;
}

export class KeepAlives {
  private readonly targets = new Map<string, Target>();
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;

  constructor(
    private readonly periodMs: number = KEEPALIVE_PERIOD_MS,
    private readonly retentionMs: number = KEEPALIVE_RETENTION_MS,
    private readonly maxTargets: number = MAX_KEEPALIVE_TARGETS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A request we originated went to `to` on `transport`. */
  noteRequest(transport: Transport, to: HostPort): void {
    const key = `${transport.protocol}|${transport.local.port}|${to.address}|${to.port}`;
    const known = this.targets.get(key);
    if (known) {
      known.lastRequestAt = this.now();
      this.targets.delete(key); // re-inserted last: the Map's order is the eviction order
      this.targets.set(key, known);
    } else {
      this.targets.set(key, { transport, to: { address: to.address, port: to.port }, lastRequestAt: this.now() });
      if (this.targets.size > this.maxTargets) this.targets.delete(this.targets.keys().next().value!);
    }
    this.timer ??= setInterval(() => this.tick(), this.periodMs).unref();
  }

  /** One round of pings (the timer's job; public for tests). */
  tick(): void {
    const oldest = this.now() - this.retentionMs;
    for (const [key, t] of this.targets) {
      if (t.lastRequestAt < oldest) { this.targets.delete(key); continue; }
      if (t.transport.protocol !== 'udp' && !t.transport.connected(t.to)) continue;
      this.sent++;
      void t.transport.send(t.to, CRLF_PING).catch(() => undefined);
    }
    if (this.targets.size === 0) this.stop();
  }

  get size(): number { return this.targets.size; }
  get pingsSent(): number { return this.sent; }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

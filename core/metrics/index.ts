/**
 * /metrics: the Prometheus text exposition of the server, behind our own small interface (prom-client inside).
 * Gauges and totals are read from the server's counters and the media health at each scrape (collect callbacks);
 * only call ends are observed as they happen. Labels take values from fixed vocabularies (no Call-IDs, no URIs).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallEnded } from '../b2bua/call-results.js';
import type { ServerCounters } from '../b2bua/types.js';
import type { MediaHealth } from '../media/types.js';

export interface MetricsSource {
  counters(): ServerCounters;
  onCallEnded(listener: (ended: CallEnded) => void): void;
}

export interface Metrics {
  readonly contentType: string;
  render(): Promise<string>;
}

const PREFIX = 'b2bua_';
/** Call set-up (INVITE in → 200 OK out) buckets, seconds: a ringing phone takes seconds, an automaton milliseconds. */
const SETUP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function createMetrics(source: MetricsSource, mediaHealth?: () => Promise<MediaHealth>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry }); // process CPU / memory / fds, nodejs_eventloop_lag_seconds
  // Gauges that prom-client names *_total, which promtool (rightly) refuses: not exported.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  const gauge = (name: string, help: string, read: (c: ServerCounters) => number): void => {
    new Gauge({ name: PREFIX + name, help, registers: [registry], collect() { this.set(read(source.counters())); } });
  };
  const total = (name: string, help: string, read: (c: ServerCounters) => number): void => {
    // A total kept by the server: exposed as a counter whose value is read at scrape time.
    new Counter({ name: PREFIX + name, help, registers: [registry], collect() { this.reset(); this.inc(read(source.counters())); } });
  };
  gauge('calls_in_progress', 'Calls in progress.', (c) => c.calls);
  gauge('sip_dialogs', 'SIP dialogs of calls in progress (both legs).', (c) => c.dialogs);
  gauge('sip_transactions', 'SIP transactions in progress.', (c) => c.transactions);
  gauge('media_sessions', 'Media sessions in progress.', (c) => c.mediaSessions);
  gauge('media_ports_in_use', 'Media ports allocated.', (c) => c.mediaPorts);
  gauge('subscriptions', 'SIP subscriptions alive.', (c) => c.subscriptions);
  total('calls_total', 'Calls received (INVITEs that created a call).', (c) => c.callsTotal);
  total('sip_loops_detected_total', 'Our own leg B INVITEs that came back, answered 482.', (c) => c.loopsDetected);
  total('dtls_failures_total', 'Calls ended because a DTLS-SRTP handshake or fingerprint check failed.', (c) => c.dtlsFailures);
  total('zrtp_failures_total', 'Calls ended because ZRTP failed.', (c) => c.zrtpFailures);

  const ended = new Counter({ name: `${PREFIX}calls_ended_total`, help: 'Calls ended, by result.', labelNames: ['result'], registers: [registry] });
  const setup = new Histogram({ name: `${PREFIX}call_setup_seconds`, help: 'Answered calls: INVITE received to 200 OK sent on leg A.', buckets: SETUP_BUCKETS, registers: [registry] });
  source.onCallEnded((e) => {
    ended.inc({ result: e.result });
    if (e.setupMs !== undefined) setup.observe(e.setupMs / 1000);
  });

  if (mediaHealth) {
    new Gauge({
      name: `${PREFIX}media_worker_up`, help: 'Media worker answers its ping within 1 s (1) or not (0).', labelNames: ['worker'], registers: [registry],
      async collect() {
        this.reset();
        for (const w of (await mediaHealth()).workers) this.set({ worker: String(w.index) }, w.ok ? 1 : 0);
      },
    });
  }

  return { contentType: registry.contentType, render: () => registry.metrics() };
}

/**
 * /metrics: the Prometheus text exposition of the server, behind our own small interface (prom-client inside).
 * Gauges and totals are read from the server's counters and the media health at each scrape (collect callbacks);
 * only call ends are observed as they happen. Labels take values from fixed vocabularies (no Call-IDs, no URIs).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallEnded } from '../b2bua/call-results.js';
import type { ServerCounters } from '../b2bua/types.js';
import type { MediaEngineCounters, MediaHealth } from '../media/types.js';
import type { SipMessage } from '../sip/message.js';
import type { TransportProtocol } from '../sip/uri.js';
import type { MediaTotals } from './media-totals.js';
import type { PluginGauges } from './plugin-gauges.js';
import { classifySipBytes, classifySipMessage } from './sip-traffic.js';

export { MediaTotals } from './media-totals.js';
export { PluginGauges } from './plugin-gauges.js';

export interface MetricsSource {
  counters(): ServerCounters;
  onCallEnded(listener: (ended: CallEnded) => void): void;
}

/** What /metrics reads besides the server's counters; each part is optional. */
export interface MetricsInputs {
  readonly mediaHealth?: (() => Promise<MediaHealth>) | undefined;
  readonly mediaCounters?: () => MediaEngineCounters;
  /** Sessions observed by MediaTotals.track(engine). */
  readonly media?: MediaTotals;
  /** The SIP stack: its wire hook is taken (set here) and its retransmission counts read. */
  readonly sip?: {
    onWire: ((direction: 'in' | 'out', protocol: TransportProtocol, data: Buffer, message?: SipMessage) => void) | undefined;
    readonly retransmissions: { readonly in: number; readonly out: number };
  };
  readonly plugin?: PluginGauges;
}

export interface Metrics {
  readonly contentType: string;
  render(): Promise<string>;
}

const PREFIX = 'b2bua_';
/** Call set-up (INVITE in → 200 OK out) buckets, seconds: a ringing phone takes seconds, an automaton milliseconds. */
const SETUP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function createMetrics(source: MetricsSource, inputs: MetricsInputs = {}): Metrics {
  const { mediaHealth } = inputs;
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
  if (!inputs.media) gauge('media_sessions', 'Media sessions in progress.', (c) => c.mediaSessions);
  gauge('media_ports_in_use', 'Media ports allocated.', (c) => c.mediaPorts);
  gauge('subscriptions', 'SIP subscriptions alive.', (c) => c.subscriptions);
  gauge('sip_connections', 'TCP/TLS connections open.', (c) => c.sipConnections.open);
  total('calls_total', 'Calls received (INVITEs that created a call).', (c) => c.callsTotal);
  total('sip_connections_refused_total', 'TCP/TLS connections closed unread: over max-connections or max-connections-per-address.', (c) => c.sipConnections.refusedTotal + c.sipConnections.refusedPerAddress);
  total('sip_connections_timed_out_total', 'TCP/TLS connections closed by sip-header-timeout or sip-idle-timeout.', (c) => c.sipConnections.headerTimeout + c.sipConnections.idleClosed);
  total('sip_loops_detected_total', 'Our own leg B INVITEs that came back, answered 482.', (c) => c.loopsDetected);
  new Counter({
    name: `${PREFIX}calls_refused_total`, help: 'New INVITEs refused before any call state, by reason.', labelNames: ['reason'], registers: [registry],
    collect() { this.reset(); this.inc({ reason: 'media_overloaded' }, source.counters().mediaOverloadRefused ?? 0); },
  });
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

  if (inputs.sip) sipMetrics(registry, inputs.sip);
  if (inputs.media) mediaMetrics(registry, inputs.media);
  if (inputs.mediaCounters) {
    const read = inputs.mediaCounters;
    new Counter({
      name: `${PREFIX}media_worker_restarts_total`, help: 'Media worker processes respawned after dying.', registers: [registry],
      collect() { this.reset(); this.inc(read().workerRestarts ?? 0); },
    });
  }
  // Plugins register their gauges in apply(), after /metrics exists (it must see the first SIP messages): added at scrape.
  const pluginGauges = new Set<string>();
  const addPluginGauges = (): void => {
    for (const g of inputs.plugin?.list() ?? []) {
      if (pluginGauges.has(g.fullName)) continue;
      pluginGauges.add(g.fullName);
      new Gauge({
        name: g.fullName, help: g.help, labelNames: g.labelNames, registers: [registry],
        collect() {
          this.reset();
          for (const s of g.samples()) this.set(s.labels, s.value);
        },
      });
    }
  };

  return { contentType: registry.contentType, render: () => { addPluginGauges(); return registry.metrics(); } };
}

function sipMetrics(registry: Registry, sip: NonNullable<MetricsInputs['sip']>): void {
  const requests = new Counter({
    name: `${PREFIX}sip_requests_total`, help: 'SIP requests received (in) and sent (out), retransmissions included.',
    labelNames: ['method', 'transport', 'direction'], registers: [registry],
  });
  const responses = new Counter({
    name: `${PREFIX}sip_responses_total`, help: 'SIP responses received (in) and sent (out), by status (a listed code, else its class) and CSeq method.',
    labelNames: ['code', 'method', 'transport', 'direction'], registers: [registry],
  });
  sip.onWire = (direction, transport, data, message) => {
    const m = message ? classifySipMessage(message) : classifySipBytes(data);
    if (m?.kind === 'request') requests.inc({ method: m.method, transport, direction });
    else if (m) responses.inc({ code: m.code, method: m.method, transport, direction });
  };
  new Counter({
    name: `${PREFIX}sip_retransmissions_total`, help: 'SIP retransmissions: requests received again (in), requests and responses we sent again (out).',
    labelNames: ['direction'], registers: [registry],
    collect() {
      this.reset();
      this.inc({ direction: 'in' }, sip.retransmissions.in);
      this.inc({ direction: 'out' }, sip.retransmissions.out);
    },
  });
}

function mediaMetrics(registry: Registry, media: MediaTotals): void {
  new Gauge({
    name: `${PREFIX}media_sessions`, help: 'Media sessions in progress, by worker ("main": in-process engine) and encryption mode of the legs ("a/b" when they differ).',
    labelNames: ['worker', 'mode'], registers: [registry],
    collect() {
      this.reset();
      for (const s of media.sessions()) this.set({ worker: s.worker, mode: s.mode }, s.count);
    },
  });
  // One scrape reads the sessions' statistics once, shared by the counters below (prom-client collects them in turn).
  let pending: ReturnType<MediaTotals['totals']> | undefined;
  const totals = (): ReturnType<MediaTotals['totals']> => {
    pending ??= media.totals().finally(() => { setImmediate(() => { pending = undefined; }); });
    return pending;
  };
  const counter = (name: string, help: string, labelNames: string[], fill: (c: Counter, t: Awaited<ReturnType<MediaTotals['totals']>>) => void): void => {
    new Counter({ name: PREFIX + name, help, labelNames, registers: [registry], async collect() { const t = await totals(); this.reset(); fill(this, t); } });
  };
  counter('media_packets_total', 'RTP/RTCP packets received (in) and sent (out) on media sockets.', ['direction'], (c, t) => {
    c.inc({ direction: 'in' }, t.packetsIn);
    c.inc({ direction: 'out' }, t.packetsOut);
  });
  counter('media_bytes_total', 'Bytes received (in) and sent (out) on media sockets.', ['direction'], (c, t) => {
    c.inc({ direction: 'in' }, t.bytesIn);
    c.inc({ direction: 'out' }, t.bytesOut);
  });
  counter('media_packets_lost_total', 'RTP packets missing from the peers\' sequence numbers.', [], (c, t) => c.inc(t.packetsLost));
  const srtpModes = ['sdes', 'dtls-srtp', 'zrtp'] as const;
  counter('srtp_auth_failures_total', 'SRTP/SRTCP packets that failed authentication, by encryption mode.', ['mode'], (c, t) => {
    for (const m of srtpModes) c.inc({ mode: m }, t.srtpAuthFailures[m]);
  });
  counter('srtp_replays_total', 'SRTP/SRTCP packets dropped as replays, by encryption mode.', ['mode'], (c, t) => {
    for (const m of srtpModes) c.inc({ mode: m }, t.srtpReplays[m]);
  });
}

/**
 * packaging/grafana-dashboard.json: a Grafana 10 JSON model on a `${DS_PROMETHEUS}` data source, whose panel
 * expressions use only metrics that exist: those /metrics exports today (read from core/metrics by rendering a
 * registry with every input, sip-bridge's gauges included, so a renamed metric breaks this test).
 * Plain parsing: no promtool, no Grafana needed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerCounters } from '../../../core/b2bua/types.js';
import { createMetrics, MediaTotals, PluginGauges } from '../../../core/metrics/index.js';
import { noStreamStats } from '../../../core/sip/transport.js';
import { registerBridgeGauges } from '../../../plugins/sip-bridge/metrics.js';

const DASHBOARD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../packaging/grafana-dashboard.json');

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The series names an expression selects: identifiers outside strings, label matchers, ranges and grouping clauses, not called as functions. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = stripped.slice(m.index + m[0].length).trimStart();
    if (after.startsWith('(') || PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}

/** Every series name /metrics can export (histograms: _bucket, _sum, _count), from the # TYPE lines. */
async function exportedNames(): Promise<Set<string>> {
  const zero = new Proxy({}, { get: (_, key) => (key === 'sipConnections' ? noStreamStats() : 0) }) as ServerCounters;
  const sip = { onWire: undefined, retransmissions: { in: 0, out: 0 } };
  const plugin = new PluginGauges('sip-bridge');
  registerBridgeGauges(plugin, new Map());
  const metrics = createMetrics({ counters: () => zero, onCallEnded: () => {} }, {
    mediaHealth: () => Promise.resolve({ ok: true, workers: [{ index: 0, pid: 1, ok: true }] }),
    mediaCounters: () => ({ sessions: 0, portsInUse: 0, workerRestarts: 0 }), media: new MediaTotals(), sip, plugin,
  });
  const names = new Set<string>();
  for (const m of (await metrics.render()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

interface Target { expr?: string; datasource?: { uid?: string } }
interface Panel { id: number; type: string; title: string; datasource?: { type?: string; uid?: string }; targets?: Target[]; panels?: Panel[] }

function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

describe('packaging/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    __inputs: { name: string; pluginId: string }[]; schemaVersion: number; uid: string; title: string;
    templating: { list: { name: string; type: string; query: unknown }[] }; panels: Panel[];
  };
  const panels = allPanels(dashboard.panels);
  const queried = panels.filter((p) => p.type !== 'row');
  const exprs = queried.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })));

  it('the metric-name extraction reads PromQL as meant', () => {
    assert.deepEqual(metricNames('histogram_quantile(0.95, sum by (le) (rate(b2bua_call_setup_seconds_bucket{instance=~"$instance"}[$__rate_interval])))'),
      ['b2bua_call_setup_seconds_bucket']);
    assert.deepEqual(metricNames('sum(rate(a_total{x="b_c"}[5m])) / sum without (mode) (b_total) or on(instance) c'), ['a_total', 'b_total', 'c']);
  });

  it('a Grafana 10 model on a ${DS_PROMETHEUS} Prometheus data source (import input and datasource variable)', () => {
    assert.ok(dashboard.schemaVersion >= 38, `schemaVersion ${dashboard.schemaVersion} (Grafana 10 writes 38+)`);
    assert.equal(dashboard.uid, 'b2bua-server');
    assert.deepEqual(dashboard.__inputs.map((i) => [i.name, i.pluginId]), [['DS_PROMETHEUS', 'prometheus']]);
    assert.ok(dashboard.templating.list.some((v) => v.name === 'DS_PROMETHEUS' && v.type === 'datasource' && v.query === 'prometheus'));
    assert.ok(queried.length >= 10, `${queried.length} panels`);
    for (const p of queried) {
      assert.equal(p.datasource?.uid, '${DS_PROMETHEUS}', `panel "${p.title}" data source`);
      assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has a query`);
    }
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
  });

  it('every metric in a panel expression is exported by core/metrics (or sip-bridge\'s gauges); the main ones each have a panel', async () => {
    const known = await exportedNames();
    assert.ok(known.has('b2bua_calls_in_progress') && known.has('b2bua_call_setup_seconds_bucket') && known.has('nodejs_eventloop_lag_seconds'),
      `core/metrics renders its names: ${[...known].slice(0, 10).join(', ')}…`);
    const used = new Set<string>();
    for (const { panel, expr } of exprs) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `panel "${panel}": no metric in ${expr}`);
      for (const name of names) {
        assert.ok(known.has(name), `panel "${panel}": ${name} is not a metric /metrics exports (${expr})`);
        used.add(name);
      }
    }
    for (const name of ['b2bua_calls_in_progress', 'b2bua_calls_ended_total', 'b2bua_call_setup_seconds_bucket', 'b2bua_sip_dialogs', 'b2bua_sip_transactions',
      'b2bua_media_sessions', 'b2bua_media_ports_in_use', 'b2bua_media_worker_up', 'b2bua_dtls_failures_total', 'b2bua_zrtp_failures_total',
      'b2bua_sip_loops_detected_total', 'nodejs_eventloop_lag_seconds', 'process_resident_memory_bytes', 'b2bua_sip_requests_total', 'b2bua_sip_responses_total',
      'b2bua_sip_retransmissions_total', 'b2bua_srtp_auth_failures_total', 'b2bua_media_packets_lost_total', 'b2bua_media_worker_restarts_total',
      'b2bua_plugin_sip_bridge_registrations', 'b2bua_plugin_sip_bridge_free_lines']) {
      assert.ok(used.has(name), `${name} has no panel`);
    }
  });
});

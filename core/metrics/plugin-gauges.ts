/**
 * The plugin's gauges (PluginHost.metrics): definitions checked and kept here from apply(), exported on /metrics under
 * `b2bua_plugin_<plugin>_` (core/metrics/index.ts reads them). Core never knows what they count.
 */
import type { PluginGauge, PluginGaugeSample, PluginMetricsApi } from '../plugin-api/index.js';

/** Label sets exported per gauge at most (the rest are dropped): a plugin cannot blow up the series count. */
export const MAX_LABEL_SETS = 100;
const MAX_LABEL_VALUE = 64;
const NAME = /^[a-z][a-z0-9_]*$/;
const LABEL = /^[a-z][a-z0-9_]*$/;

export interface PluginGaugeEntry {
  readonly fullName: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** The samples to export now: a collect() that throws or returns garbage exports nothing. */
  samples(): PluginGaugeSample[];
}

export function pluginMetricPrefix(plugin: string): string {
  return `b2bua_plugin_${plugin.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_`;
}

export class PluginGauges implements PluginMetricsApi {
  private readonly entries = new Map<string, PluginGaugeEntry>();

  constructor(private readonly plugin: string) {}

  gauge(definition: PluginGauge): void {
    const { name, help } = definition;
    const labelNames = [...(definition.labelNames ?? [])];
    const bad = (why: string): never => { throw new TypeError(`application "${this.plugin}": metrics gauge "${String(name)}" ${why}`); };
    if (typeof name !== 'string' || !NAME.test(name)) bad('needs a lower-case snake_case name (e.g. "registrations")');
    if (name.endsWith('_total')) bad('is a gauge: its name must not end in "_total"');
    if (typeof help !== 'string' || help === '') bad('needs a help text');
    if (typeof definition.collect !== 'function') bad('needs a collect() function');
    for (const l of labelNames) if (typeof l !== 'string' || !LABEL.test(l) || l.startsWith('__')) bad(`has a bad label name "${String(l)}" (snake_case)`);
    if (new Set(labelNames).size !== labelNames.length) bad('repeats a label name');
    const fullName = pluginMetricPrefix(this.plugin) + name;
    if (this.entries.has(fullName)) bad('is already registered');
    this.entries.set(fullName, { fullName, help, labelNames, samples: () => checkedSamples(() => definition.collect(), labelNames) });
  }

  list(): readonly PluginGaugeEntry[] {
    return [...this.entries.values()];
  }
}

function checkedSamples(collect: () => ReturnType<PluginGauge['collect']>, labelNames: readonly string[]): PluginGaugeSample[] {
  let got: ReturnType<PluginGauge['collect']>;
  try {
    got = collect();
  } catch {
    return [];
  }
  if (typeof got === 'number') return labelNames.length === 0 && Number.isFinite(got) ? [{ labels: {}, value: got }] : [];
  if (!Array.isArray(got)) return [];
  const out: PluginGaugeSample[] = [];
  for (const s of got as readonly PluginGaugeSample[]) {
    if (out.length >= MAX_LABEL_SETS) break;
    if (typeof s?.value !== 'number' || !Number.isFinite(s.value) || typeof s.labels !== 'object' || s.labels === null) continue;
    const keys = Object.keys(s.labels);
    if (keys.length !== labelNames.length || !labelNames.every((l) => typeof s.labels[l] === 'string' && s.labels[l].length <= MAX_LABEL_VALUE)) continue;
    out.push({ labels: { ...s.labels }, value: s.value });
  }
  return out;
}

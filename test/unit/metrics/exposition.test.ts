/** createMetrics with every input: names, bounded labels, plugin gauges under b2bua_plugin_<name>_, promtool's check. */
import { noStreamStats } from '../../../core/sip/transport.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createMetrics, MediaTotals, PluginGauges } from '../../../core/metrics/index.js';
import { MAX_LABEL_SETS } from '../../../core/metrics/plugin-gauges.js';
import type { ServerCounters } from '../../../core/b2bua/types.js';

const counters: ServerCounters = {
  calls: 0, dialogs: 0, transactions: 0, timers: 0, mediaSessions: 0, mediaPorts: 0, callsTotal: 0, loopsDetected: 0,
  strayResponsesDropped: 0, dtlsFailures: 0, zrtpFailures: 0, subscriptions: 0, subscriptionsTotal: 0, sipConnections: noStreamStats(),
};
const source = { counters: () => counters, onCallEnded: () => undefined };

function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

describe('/metrics exposition', () => {
  it('counts SIP messages seen on the wire by method, code, transport and direction, and retransmissions', async () => {
    const sip = { onWire: undefined as ((d: 'in' | 'out', p: 'udp' | 'tcp' | 'tls', b: Buffer) => void) | undefined, retransmissions: { in: 2, out: 3 } };
    const m = createMetrics(source, { sip, mediaCounters: () => ({ sessions: 0, portsInUse: 0, workerRestarts: 1 }) });
    assert.ok(sip.onWire, 'the wire hook is taken');
    sip.onWire('in', 'udp', Buffer.from('INVITE sip:b@h SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n'));
    sip.onWire('in', 'udp', Buffer.from('INVITE sip:b@h SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n'));
    sip.onWire('out', 'tcp', Buffer.from('SIP/2.0 486 Busy Here\r\nCSeq: 1 INVITE\r\n\r\n'));
    sip.onWire('out', 'udp', Buffer.from('FOO sip:b@h SIP/2.0\r\n\r\n'));
    const text = await m.render();
    assert.deepEqual(lines(text, 'b2bua_sip_requests_total{'), [
      'b2bua_sip_requests_total{method="INVITE",transport="udp",direction="in"} 2',
      'b2bua_sip_requests_total{method="other",transport="udp",direction="out"} 1',
    ]);
    assert.deepEqual(lines(text, 'b2bua_sip_responses_total{'), ['b2bua_sip_responses_total{code="486",method="INVITE",transport="tcp",direction="out"} 1']);
    assert.deepEqual(lines(text, 'b2bua_sip_retransmissions_total{'), ['b2bua_sip_retransmissions_total{direction="in"} 2', 'b2bua_sip_retransmissions_total{direction="out"} 3']);
    assert.deepEqual(lines(text, 'b2bua_media_worker_restarts_total'), ['b2bua_media_worker_restarts_total 1']);
  });

  it('exports media totals and sessions by worker and mode', async () => {
    const media = new MediaTotals();
    const m = createMetrics(source, { media });
    const text = await m.render();
    assert.deepEqual(lines(text, 'b2bua_media_packets_total{'), ['b2bua_media_packets_total{direction="in"} 0', 'b2bua_media_packets_total{direction="out"} 0']);
    assert.deepEqual(lines(text, 'b2bua_srtp_auth_failures_total{').map((l) => l.split('{')[1]), ['mode="sdes"} 0', 'mode="dtls-srtp"} 0', 'mode="zrtp"} 0']);
    assert.equal(lines(text, 'b2bua_media_sessions ').length, 0, 'the unlabelled gauge is replaced by the labelled one');
    assert.ok(text.includes('# TYPE b2bua_media_sessions gauge'));
  });

  it('plugin gauges: named under b2bua_plugin_<plugin>_, bounded label sets, a throwing collect() exports nothing', async () => {
    const plugin = new PluginGauges('sip-bridge');
    let state = 'registered';
    plugin.gauge({ name: 'registrations', help: 'By state.', labelNames: ['state'], collect: () => [{ labels: { state }, value: 2 }] });
    plugin.gauge({ name: 'many', help: 'Too many label sets.', labelNames: ['n'], collect: () => Array.from({ length: 500 }, (_, i) => ({ labels: { n: String(i) }, value: i })) });
    plugin.gauge({ name: 'broken', help: 'Throws.', labelNames: ['x'], collect: () => { throw new Error('boom'); } });
    plugin.gauge({ name: 'plain', help: 'No labels.', collect: () => 7 });
    const m = createMetrics(source, { plugin });
    let text = await m.render();
    assert.deepEqual(lines(text, 'b2bua_plugin_sip_bridge_registrations{'), ['b2bua_plugin_sip_bridge_registrations{state="registered"} 2']);
    assert.equal(lines(text, 'b2bua_plugin_sip_bridge_many{').length, MAX_LABEL_SETS);
    assert.deepEqual(lines(text, 'b2bua_plugin_sip_bridge_broken'), []);
    assert.deepEqual(lines(text, 'b2bua_plugin_sip_bridge_plain'), ['b2bua_plugin_sip_bridge_plain 7']);
    plugin.gauge({ name: 'late', help: 'Registered after /metrics was created (apply() runs after it).', collect: () => 4 });
    assert.deepEqual(lines(await m.render(), 'b2bua_plugin_sip_bridge_late'), ['b2bua_plugin_sip_bridge_late 4']);
    state = 'failed';
    text = await m.render();
    assert.deepEqual(lines(text, 'b2bua_plugin_sip_bridge_registrations{'), ['b2bua_plugin_sip_bridge_registrations{state="failed"} 2'], 'read at each scrape');
  });

  it('plugin gauges: bad names and labels are refused at registration', () => {
    const plugin = new PluginGauges('p');
    const collect = (): number => 0;
    assert.throws(() => plugin.gauge({ name: 'Bad-Name', help: 'x', collect }), /snake_case/);
    assert.throws(() => plugin.gauge({ name: 'calls_total', help: 'x', collect }), /_total/);
    assert.throws(() => plugin.gauge({ name: 'ok', help: '', collect }), /help/);
    assert.throws(() => plugin.gauge({ name: 'ok', help: 'x', labelNames: ['__name'], collect }), /label name/);
    assert.throws(() => plugin.gauge({ name: 'ok', help: 'x', labelNames: ['a', 'a'], collect }), /repeats/);
    plugin.gauge({ name: 'ok', help: 'x', collect });
    assert.throws(() => plugin.gauge({ name: 'ok', help: 'x', collect }), /already registered/);
  });

  it('promtool check metrics accepts the whole exposition', async function () {
    if (!existsSync('/usr/bin/promtool')) this.skip();
    const plugin = new PluginGauges('sip-bridge');
    plugin.gauge({ name: 'free_lines', help: 'Free slots.', labelNames: ['pool'], collect: () => [{ labels: { pool: 'p1' }, value: 3 }] });
    const sip = { onWire: undefined as ((d: 'in' | 'out', p: 'udp' | 'tcp' | 'tls', b: Buffer) => void) | undefined, retransmissions: { in: 0, out: 0 } };
    const m = createMetrics(source, { sip, media: new MediaTotals(), plugin, mediaCounters: () => ({ sessions: 0, portsInUse: 0 }) });
    sip.onWire!('in', 'udp', Buffer.from('OPTIONS sip:b@h SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n'));
    const r = spawnSync('promtool', ['check', 'metrics'], { input: await m.render(), encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});

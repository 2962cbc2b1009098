/** /metrics moves as real calls do (sipp on both sides), and promtool accepts what it serves. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pairs } from '../../harness/call-scenarios.js';
import type { B2buaDaemon } from '../../harness/b2bua.js';
import { requireTools } from '../../harness/tools.js';
import { assertExitCodes, callSuite, callThrough } from './fixture.js';

async function scrape(b2bua: B2buaDaemon): Promise<string> {
  const res = await fetch(`http://${b2bua.adminAddress}/metrics`, { signal: AbortSignal.timeout(3000) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of one sample (`name{labels}`) in an exposition, undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function promtoolCheck(text: string): void {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
}

describe('/metrics during and after real calls', function () {
  callSuite(this);
  before(() => requireTools(['promtool']));

  it('an answered call: calls_in_progress 1 during it, then calls_ended_total{result="answered"} 1 and one set-up time', async () => {
    let during: number | undefined;
    const r = await callThrough('metrics-answered', pairs.basic, {
      settings: { 'media-engine': 'gstreamer', 'media-workers': 1 },
      beforeCaller: ({ b2bua, calleeRun }) => {
        void (async () => {
          await calleeRun.waitForMessage(/^ACK /m, 15000);
          during = sample(await scrape(b2bua!), 'b2bua_calls_in_progress');
        })();
        return Promise.resolve();
      },
    });
    assertExitCodes(r);
    assert.equal(during, 1, 'one call in progress while it was up');
    await r.b2bua.waitForCounters(['calls'], 5000);
    const after = await scrape(r.b2bua);
    promtoolCheck(after);
    assert.equal(sample(after, 'b2bua_calls_in_progress'), 0);
    assert.equal(sample(after, 'b2bua_calls_total'), 1);
    assert.equal(sample(after, 'b2bua_calls_ended_total{result="answered"}'), 1);
    assert.equal(sample(after, 'b2bua_call_setup_seconds_count'), 1);
    const workersUp = after.split('\n').filter((l) => l.startsWith('b2bua_media_worker_up{'));
    assert.deepEqual(workersUp, ['b2bua_media_worker_up{worker="0"} 1']);
    assert.ok((sample(after, 'nodejs_eventloop_lag_seconds') ?? -1) >= 0, 'event-loop lag exported');
  });

  it('a 486 and a CANCEL: rejected_4xx and cancelled, no set-up time', async () => {
    const busy = await callThrough('metrics-486', () => pairs.error(486, 'Busy Here'));
    assertExitCodes(busy);
    await busy.b2bua.waitForCounters(['calls'], 5000);
    const afterBusy = await scrape(busy.b2bua);
    promtoolCheck(afterBusy);
    assert.equal(sample(afterBusy, 'b2bua_calls_ended_total{result="rejected_4xx"}'), 1);
    assert.equal(sample(afterBusy, 'b2bua_calls_ended_total{result="answered"}'), undefined);
    assert.equal(sample(afterBusy, 'b2bua_call_setup_seconds_count'), 0);

    const cancel = await callThrough('metrics-cancel', pairs.cancel);
    assertExitCodes(cancel);
    await cancel.b2bua.waitForCounters(['calls'], 5000);
    const afterCancel = await scrape(cancel.b2bua);
    assert.equal(sample(afterCancel, 'b2bua_calls_ended_total{result="cancelled"}'), 1);
  });
});

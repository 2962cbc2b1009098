/**
 * nat-addresses with a host name (Flexisip's `nat-addresses=b2bua.example.org` form) through the daemon: the name is
 * resolved at start-up to its first address and announced as the server-reflexive ICE candidate of each media port.
 * Here `localhost` (127.0.0.1, /etc/hosts) with the media on 127.0.0.2, so the srflx candidate differs from the host one.
 */
import assert from 'node:assert/strict';
import { pairs } from '../../harness/call-scenarios.js';
import { received } from '../../harness/sipp.js';
import { assertCleanAndStop, assertExitCodes, callSuite, callThrough } from './fixture.js';

describe('calls through the b2bua: nat-addresses with a host name', function () {
  callSuite(this);

  it('nat-addresses=localhost: leg B\'s offer carries a srflx candidate 127.0.0.1 for each media port, raddr the host candidate', async () => {
    const r = await callThrough('nat-host-name', pairs.basic, {
      settings: { 'media-engine': undefined, 'enable-ice': true, 'nat-addresses': 'localhost', 'media-address': '127.0.0.2' },
    });
    assertExitCodes(r);
    const invite = received(r.callee.messages, /^INVITE /)[0] ?? '';
    const audioPort = /^m=audio (\d+) /m.exec(invite)?.[1];
    assert.ok(audioPort, invite);
    assert.match(invite, /^c=IN IP4 127\.0\.0\.2\r?$/m, `media announced on media-address\n${invite}`);
    assert.match(invite, new RegExp(`^a=candidate:\\S+ 1 UDP \\d+ 127\\.0\\.0\\.2 ${audioPort} typ host\\r?$`, 'im'), invite);
    assert.match(invite, new RegExp(`^a=candidate:\\S+ 1 UDP \\d+ 127\\.0\\.0\\.1 ${audioPort} typ srflx raddr 127\\.0\\.0\\.2 rport ${audioPort}\\r?$`, 'im'),
      `the resolved name is the srflx candidate\n${invite}`);
    await assertCleanAndStop(r.b2bua);
  });
});

/**
 * The listener's UDP socket asks for LISTENER_UDP_BUFFER_BYTES of receive buffer (the kernel's 208 KB default overflowed
 * at 400 calls per second: lost responses, retransmitted INVITEs, failed calls); account sockets keep the default.
 * Read back from the kernel with `ss` (skmem rb = what the socket may hold, twice the granted SO_RCVBUF on Linux).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { silentLogger } from '../../../core/log/index.js';
import { SipStack } from '../../../core/sip/stack.js';
import { LISTENER_UDP_BUFFER_BYTES } from '../../../core/sip/transport.js';

function receiveBufferOf(port: number): number {
  const out = execFileSync('ss', ['-Huanm', 'sport', '=', `:${port}`], { encoding: 'utf8' });
  const rb = /skmem:\(r\d+,rb(\d+)/.exec(out)?.[1];
  if (rb === undefined) throw new Error(`ss shows no UDP socket on port ${port}:\n${out}`);
  return Number(rb);
}

const sysctl = (name: string): number => Number(fs.readFileSync(`/proc/sys/net/core/${name}`, 'utf8'));

describe('sip UDP socket buffers', function () {
  this.timeout(10000);
  let stack: SipStack;
  beforeEach(() => { stack = new SipStack(silentLogger(), 'test'); });
  afterEach(async () => { await stack.close(); });

  it('a listener asks for 4 MiB of receive buffer, granted up to net.core.rmem_max', async () => {
    const t = await stack.listen('udp', '127.0.0.1', 0);
    const expected = Math.min(LISTENER_UDP_BUFFER_BYTES, sysctl('rmem_max'));
    assert.equal(receiveBufferOf(t.local.port), 2 * expected);
  });

  it('an account socket keeps the kernel default', async () => {
    await stack.listen('udp', '127.0.0.1', 0);
    const t = await stack.openAccountTransport('udp');
    assert.equal(receiveBufferOf(t.local.port), sysctl('rmem_default'));
  });
});

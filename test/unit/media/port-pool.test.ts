import assert from 'node:assert/strict';
import { PortPool } from '../../../core/media/gst/port-pool.js';
import { isIPv4 } from 'node:net';
import { mediaAddresses } from '../../../core/media/addresses.js';
import { workerCount } from '../../../core/media/gst/index.js';
import type { B2buaServerConfig } from '../../../core/plugin-api/index.js';
import { testConfig } from '../b2bua/helpers.js';

describe('media port pool', () => {
  it('hands out even RTP ports whose RTCP neighbour is free, rotating through the range', () => {
    const pool = new PortPool({ min: 10001, max: 10008 });
    assert.deepEqual(pool.candidates(10), [10002, 10004, 10006, 10008]);
    pool.take(10002, 10003);
    pool.take(10005);
    assert.deepEqual(pool.candidates(10).sort(), [10006, 10008]);
    assert.equal(pool.inUse, 3);
    pool.release(10002, 10003, 10005);
    assert.equal(pool.candidates(1).length, 1);
  });

  it('a single-port range offers that port; 0 means the kernel picks', () => {
    assert.deepEqual(new PortPool({ min: 7078, max: 7078 }).candidates(5), [7078]);
    const k = new PortPool({ min: 0, max: 0 });
    assert.equal(k.kernelPicks, true);
    assert.deepEqual(k.candidates(5), [0]);
  });
});

describe('media addresses and workers from the configuration', () => {
  const cfg = (x: Partial<B2buaServerConfig>): B2buaServerConfig => testConfig({ transport: 'sip:127.0.0.1:6067;transport=tcp', natAddresses: [], ...x });
  it('binds where SIP listens when that is an IP address, else everywhere announced as the first nat-address', () => {
    assert.deepEqual(mediaAddresses(cfg({})), { bind: '127.0.0.1', advertised: '127.0.0.1' });
    assert.deepEqual(mediaAddresses(cfg({ transport: 'sip:[::1]:5060' })), { bind: '::1', advertised: '::1' });
    assert.deepEqual(mediaAddresses(cfg({ transport: 'sips:b2b.example.org:5061', natAddresses: ['192.0.2.7'] })), { bind: '0.0.0.0', advertised: '192.0.2.7' });
    assert.deepEqual(mediaAddresses(cfg({ mediaAddress: '127.0.0.5' })), { bind: '127.0.0.5', advertised: '127.0.0.5' });
    const anywhere = mediaAddresses(cfg({ transport: 'sip:b2b.example.org:5060' }));
    assert.equal(anywhere.bind, '0.0.0.0');
    assert.ok(isIPv4(anywhere.advertised) && anywhere.advertised !== '0.0.0.0', `announces a usable IPv4 address, not ${anywhere.advertised}`);
  });
  it('media-workers 0 means one per core', () => {
    assert.ok(workerCount(cfg({ mediaWorkers: 0 })) >= 1);
    assert.equal(workerCount(cfg({ mediaWorkers: 3 })), 3);
  });
});

/** Garbage, truncated and mutated SIP over UDP and TCP: the server answers 400 or drops, never crashes, and keeps serving. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createB2buaServer, type B2buaServer } from '../../../core/b2bua/index.js';
import { silentLogger } from '../../../core/log/index.js';
import { createRelayEngine } from '../../../core/media/relay/index.js';
import type { MediaEngine } from '../../../core/media/types.js';
import { createHooks } from '../../../core/plugin-api/index.js';
import { streamPeer, testConfig } from '../../unit/b2bua/helpers.js';
import { offerSdp, Ua } from './ua.js';

describe('b2bua robustness against bad input', function () {
  this.timeout(20000);
  let server: B2buaServer;
  let media: MediaEngine;
  let ua: Ua;
  let callee: Ua;
  let port = 0;
  const rejections: unknown[] = [];
  const onRejection = (e: unknown): void => { rejections.push(e); };

  before(async () => {
    process.on('unhandledRejection', onRejection);
    ua = await Ua.open('fuzz', () => port);
    callee = await Ua.open('callee', () => port);
    const config = testConfig({ transport: 'sip:127.0.0.1:0', outboundProxy: `sip:127.0.0.1:${callee.port}`, ringingTimeout: 1 });
    media = await createRelayEngine(config, silentLogger());
    server = createB2buaServer({ config, hooks: createHooks(), log: silentLogger(), media, version: '1' });
    port = Number(/:(\d+);/.exec((await server.start()).transports[0]!)![1]);
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    await server.close();
    await media.close();
    await ua.close();
    await callee.close();
  });

  function mutate(text: string, i: number): Buffer {
    const b = Buffer.from(text, 'utf8');
    switch (i % 4) {
      case 0: return b.subarray(0, Math.floor(Math.random() * b.length));
      case 1: { const c = Buffer.from(b); for (let k = 0; k < 3; k++) c[Math.floor(Math.random() * c.length)] = Math.floor(Math.random() * 256); return c; }
      case 2: return Buffer.concat([b.subarray(0, Math.floor(Math.random() * b.length)), randomBytes(40)]);
      default: return randomBytes(1 + Math.floor(Math.random() * 600));
    }
  }

  it('survives 1500 mutated INVITEs/BYEs over UDP and 200 over TCP, then still answers OPTIONS', async () => {
    const templates = [ua.invite('sip:x@example.org', offerSdp(4000)).toString(), ua.invite('sip:x@example.org', offerSdp(4000)).toString().replace(/INVITE/g, 'BYE')];
    for (let i = 0; i < 1500; i++) {
      ua.sendRaw(mutate(templates[i % 2]!, i));
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    const tcp = await streamPeer(port, false);
    for (let i = 0; i < 200; i++) tcp.send(mutate(templates[i % 2]!, i).toString('latin1'));
    await tcp.close();
    await new Promise((r) => setTimeout(r, 1500)); // calls created by lucky mutations time out (ringing-timeout 1 s)
    ua.send(ua.options(`sip:127.0.0.1:${port}`));
    await ua.wait((m) => 'status' in m && m.status === 200 && m.cseq.method === 'OPTIONS', '200 OPTIONS', 5000);
    assert.deepEqual(rejections, []);
  });
});

/** PluginSipApi.request: out-of-dialog requests for plugins, with digest challenges answered. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createB2buaServer, type B2buaServer } from '../../../core/b2bua/index.js';
import { silentLogger } from '../../../core/log/index.js';
import { createHooks } from '../../../core/plugin-api/index.js';
import type { MediaEngine } from '../../../core/media/types.js';
import { testConfig } from '../../unit/b2bua/helpers.js';
import { Ua } from './ua.js';

const noMedia: MediaEngine = {
  name: 'none', capabilities: { encryption: ['none'], srtpSuites: [] },
  createSession: () => Promise.reject(new Error('no media here')), counters: () => ({ sessions: 0, portsInUse: 0 }), close: () => Promise.resolve(),
};

describe('PluginSipApi.request (REGISTER with digest)', function () {
  this.timeout(10000);
  let server: B2buaServer;
  let registrar: Ua;
  let port = 0;

  beforeEach(async () => {
    registrar = await Ua.open('registrar', () => port);
    server = createB2buaServer({ config: testConfig(), hooks: createHooks(), log: silentLogger(), media: noMedia, version: '1' });
    const { transports } = await server.start();
    port = Number(/:(\d+);/.exec(transports[0]!)![1]);
  });
  afterEach(async () => {
    await server.close();
    await registrar.close();
  });

  for (const algorithm of ['MD5', 'SHA-256'] as const) {
    it(`answers a 401 (${algorithm}, qop=auth) and resolves with the final response`, async () => {
      const done = server.sip.request({
        method: 'REGISTER', uri: `sip:127.0.0.1:${registrar.port}`,
        headers: { To: '<sip:acc@trunk>', From: '<sip:acc@trunk>', Contact: `<${server.sip.contact}>`, Expires: '60' },
        credentials: { username: 'acc', password: 'pw' },
      });
      const first = await registrar.request('REGISTER');
      assert.equal(first.get('authorization'), undefined);
      registrar.send(registrar.answer(first, 401, 'Unauthorized', { headers: { 'www-authenticate': `Digest realm="trunk", nonce="n0", qop="auth", algorithm=${algorithm}` } }), first.vias[0]!.port);
      const second = await registrar.request('REGISTER');
      assert.equal(second.callId, first.callId);
      assert.equal(second.fromTag, first.fromTag);
      assert.equal(second.cseq.seq, first.cseq.seq + 1);
      const p = Object.fromEntries([...second.get('authorization')!.matchAll(/(\w+)="?([^",]+)"?/g)].map((m) => [m[1], m[2]]));
      const h = (s: string): string => createHash(algorithm === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');
      assert.equal(p['response'], h(`${h('acc:trunk:pw')}:n0:${p['nc']}:${p['cnonce']}:auth:${h(`REGISTER:${p['uri']}`)}`));
      registrar.send(registrar.answer(second, 200, 'OK', { headers: { expires: '60' } }), second.vias[0]!.port);
      const res = await done;
      assert.equal(res.status, 200);
      assert.equal(res.header('Expires'), '60');
    });
  }

  it('gives the 401 back when the credentials are refused again', async () => {
    const done = server.sip.request({ method: 'REGISTER', uri: `sip:127.0.0.1:${registrar.port}`, headers: { To: '<sip:acc@trunk>' }, credentials: { username: 'acc', password: 'bad' } });
    for (let i = 0; i < 2; i++) {
      const r = await registrar.request('REGISTER');
      registrar.send(registrar.answer(r, 401, 'Unauthorized', { headers: { 'www-authenticate': `Digest realm="trunk", nonce="n${i}"` } }), r.vias[0]!.port);
    }
    assert.equal((await done).status, 401);
  });

  it('resolves with a 503 when the target cannot be reached (no exception)', async () => {
    const res = await server.sip.request({ method: 'OPTIONS', uri: 'sip:127.0.0.1:1;transport=tcp', headers: {} });
    assert.equal(res.status, 503);
  });
});

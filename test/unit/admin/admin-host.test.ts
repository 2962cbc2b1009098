import assert from 'node:assert/strict';
import http from 'node:http';
import { createAdminServer, type AdminServer } from '../../../core/admin/index.js';

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {}, child() { return silent; } };

function get(url: string, host: string | undefined): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: '/health', setHost: host === undefined, headers: host === undefined ? {} : { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin interface: Host header check (DNS rebinding)', () => {
  let admin: AdminServer;
  before(async () => {
    const server = { counters: () => ({}), callsWithMedia: () => Promise.resolve([]) };
    admin = await createAdminServer('127.0.0.1:0', server as never, silent);
  });
  after(() => admin.close());

  it('answers a Host naming its loopback address or localhost with its port', async () => {
    const port = new URL(admin.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
      assert.equal((await get(admin.url, host)).status, 200, host);
    }
  });

  it('refuses any other Host with 421, naming the address to use', async () => {
    const port = new URL(admin.url).port;
    for (const host of ['evil.example', `evil.example:${port}`, '127.0.0.1', `127.0.0.1:${Number(port) + 1}`]) {
      const r = await get(admin.url, host);
      assert.equal(r.status, 421, host);
      assert.match(r.body, new RegExp(`use 127\\.0\\.0\\.1:${port}`));
    }
  });
});

/**
 * Admin interface (loopback HTTP, no authentication): GET /health, /ready, /counters, /calls as JSON, /metrics (Prometheus).
 * /health and /ready answer 200 only when the SIP transports listen (the interface opens after them) and every media
 * worker answers a ping within a second; else 503 with the sick workers named (and while stopping).
 * Off unless `[b2bua-server] admin-address=host:port` is set; the schema only accepts loopback hosts.
 * A request whose Host header names anything but this loopback address (DNS rebinding: a web page in a browser on
 * this host naming its own domain that resolves to 127.0.0.1) gets 421 Misdirected Request.
 * The application's read-only admin commands (registered with `host.admin.register()`) answer at GET /plugin/<command>
 * (URL-encoded), e.g. /plugin/SIP_BRIDGE%20INFO, the counterpart of Flexisip's `flexisip_cli.py SIP_BRIDGE INFO`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { B2buaServer } from '../b2bua/types.js';
import { parseHostPort } from '../config/formats.js';
import { b2buaError } from '../errors/index.js';
import type { MediaHealth } from '../media/types.js';
import type { Metrics } from '../metrics/index.js';
import type { Logger } from '../vocabulary/index.js';

/** The plugin's commands, looked up at each request (core/plugin-host/admin-commands.ts). */
export interface AdminCommandSource {
  get(command: string): (() => unknown) | undefined;
  names(): readonly string[];
}

const NO_COMMANDS: AdminCommandSource = { get: () => undefined, names: () => [] };
const NO_WORKERS = (): Promise<MediaHealth> => Promise.resolve({ ok: true, workers: [] });

/** A route's answer with an HTTP status other than 200. */
class Answer {
  constructor(readonly status: number, readonly body: unknown, readonly contentType?: string) {}
}

export interface AdminServer {
  readonly url: string;
  setStopping(): void;
  close(): Promise<void>;
}

export async function createAdminServer(
  address: string,
  server: Pick<B2buaServer, 'counters' | 'callsWithMedia'>,
  log: Logger,
  pluginCommands: AdminCommandSource = NO_COMMANDS,
  mediaHealth: () => Promise<MediaHealth> = NO_WORKERS,
  metrics?: Metrics,
): Promise<AdminServer> {
  const hp = parseHostPort(address);
  if (typeof hp === 'string') throw b2buaError('B2BUA_CONFIG_INVALID', { problem: `[b2bua-server] admin-address: ${hp}` });
  const started = Date.now();
  let stopping = false;

  const routes: Record<string, () => unknown> = {
    '/health': async () => {
      const media = await mediaHealth();
      const status = stopping ? 'stopping' : media.ok ? 'ok' : 'degraded';
      return new Answer(status === 'ok' ? 200 : 503, { status, uptimeSeconds: Math.round((Date.now() - started) / 1000), transports: 'listening', media });
    },
    '/ready': async () => {
      const media = stopping ? undefined : await mediaHealth();
      const reason = stopping ? 'stopping' : media?.ok ? undefined : 'a media worker does not answer';
      return new Answer(reason ? 503 : 200, reason ? { ready: false, reason } : { ready: true });
    },
    '/counters': () => server.counters(),
    ...(metrics ? { '/metrics': async () => new Answer(200, await metrics.render(), metrics.contentType) } : {}),
    '/calls': () => server.callsWithMedia(),
  };
  const pluginPath = (command: string): string => `/plugin/${encodeURIComponent(command)}`;

  let allowedHosts: ReadonlySet<string> = new Set();

  const http1 = http.createServer((req, res) => {
    const rawPath = (req.url ?? '/').split('?')[0]!;
    const command = rawPath.startsWith('/plugin/') ? safeDecode(rawPath.slice(8)) : undefined;
    const path = command === undefined ? rawPath : pluginPath(command);
    const route = command === undefined ? routes[path] : pluginCommands.get(command);
    const send = (status: number, body: unknown, contentType?: string): void => {
      res.writeHead(status, { 'content-type': contentType ?? 'application/json', 'cache-control': 'no-store' });
      res.end(contentType ? String(body) : JSON.stringify(body));
    };
    if (req.headers.host !== undefined && !allowedHosts.has(req.headers.host.toLowerCase())) {
      return send(421, { error: `Host "${req.headers.host}" is not this admin interface; use ${[...allowedHosts][0]}` });
    }
    if (!route) return send(404, { error: `no such resource ${path}; try ${[...Object.keys(routes), ...pluginCommands.names().map(pluginPath)].join(', ')}` });
    if (req.method !== 'GET') return send(405, { error: 'only GET' });
    Promise.resolve().then(route).then((body) => (body instanceof Answer ? send(body.status, body.body, body.contentType) : send(200, body)), (e: unknown) => {
      log.error({ err: e, path }, 'admin request failed');
      send(500, { error: (e as Error).message });
    });
  });
  http1.keepAliveTimeout = 1000;

  await new Promise<void>((resolve, reject) => {
    http1.once('error', (e) => reject(b2buaError('B2BUA_TRANSPORT_FAILED',
      { what: 'open the admin interface', address, why: e.message, setting: '[b2bua-server] admin-address' }, { cause: e })));
    http1.listen(hp.port, hp.host, () => resolve());
  });
  const bound = http1.address() as AddressInfo;
  const url = `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  allowedHosts = loopbackHostHeaders(bound);
  log.info({ admin: url }, 'admin interface listening');

  return {
    url,
    setStopping: () => { stopping = true; },
    close: () => new Promise<void>((resolve) => {
      http1.closeAllConnections();
      http1.close(() => resolve());
    }),
  };
}

/** The Host header values that name this listener: its address and the loopback names, with its port. */
function loopbackHostHeaders(bound: AddressInfo): ReadonlySet<string> {
  const own = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return new Set([own, 'localhost', '127.0.0.1', '[::1]'].map((h) => `${h}:${bound.port}`));
}

function safeDecode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}

/**
 * Media worker process entry (child_process.fork from core/media/gst). Owns GStreamer
 * (through node-gtk), the sockets and the pipelines of the calls given to it, and answers
 * the typed requests of protocol.ts. Everything periodic (bus errors, latching, silence)
 * is polled from the JavaScript thread: no JS handler ever runs on a streaming thread.
 */
import { CallMedia } from './call-media.js';
import { initGst, type GstInfo } from './gst.js';
import { b2buaError, errorReason, isB2buaError } from '../../errors/index.js';
import { type EventMessage, type RequestMessage, type ResponseMessage, type WorkerRequests, type WorkerSecurity } from './protocol.js';

const POLL_INTERVAL_MS = Number(process.env['B2BUA_MEDIA_POLL_MS'] ?? 200);
/** While a DTLS or ZRTP handshake is under way its keys are picked up this often (media is held until then). */
const HANDSHAKE_POLL_MS = 10;

const sessions = new Map<string, CallMedia>();
let info: GstInfo | undefined;
let security: WorkerSecurity = { dtlsPem: '', zidCachePath: '' };

function send(message: ResponseMessage | EventMessage): void {
  if (process.connected) process.send?.(message);
}

function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  send({ kind: 'event', type: 'log', level, msg, fields });
}

function session(id: string): CallMedia {
  const s = sessions.get(id);
  if (!s) throw b2buaError('B2BUA_MEDIA_SESSION_UNKNOWN', { id, pid: process.pid });
  return s;
}

type Handlers = { [N in keyof WorkerRequests]: (p: WorkerRequests[N]['params']) => WorkerRequests[N]['result'] };

const handlers: Handlers = {
  init: (params) => {
    info = initGst();
    security = params;
    return { srtpSuites: info.srtpSuites, gstVersion: info.version, handshakes: info.handshakes, srtpCrypto: info.srtpCrypto };
  },
  createSession: ({ sessionId, callId, noRtpTimeoutMs }) => {
    if (!info) info = initGst();
    sessions.set(
      sessionId,
      new CallMedia({
        id: sessionId,
        callId,
        noRtpTimeoutMs,
        srtpSuites: info.srtpSuites,
        security,
        emit: (event) => send({ kind: 'event', type: 'media', sessionId, event }),
        log,
      }),
    );
    return null;
  },
  allocate: ({ sessionId, leg, index, kind, bindAddress, rtpPort, encryption }) => session(sessionId).allocate(leg, index, kind, bindAddress, rtpPort, encryption),
  configure: ({ sessionId, leg, legParams }) => {
    session(sessionId).configure(leg, legParams);
    return null;
  },
  stats: ({ sessionId }) => session(sessionId).stats(),
  sendDtmf: ({ sessionId, leg, index, digit, durationMs }) => session(sessionId).sendDtmf(leg, index, digit, durationMs),
  close: ({ sessionId }) => {
    const s = session(sessionId);
    sessions.delete(sessionId);
    return s.close();
  },
  ping: () => ({ sessions: sessions.size }),
  crash: () => {
    setImmediate(() => process.kill(process.pid, 'SIGKILL'));
    return null;
  },
};

function handle(message: RequestMessage): void {
  try {
    const handler = handlers[message.op] as (p: unknown) => unknown;
    send({ kind: 'response', id: message.id, ok: true, result: handler(message.params) });
  } catch (e) {
    send({ kind: 'response', id: message.id, ok: false, code: isB2buaError(e) ? e.code : 'B2BUA_MEDIA_WORKER_FAILED', message: errorReason(e) });
  }
}

process.on('message', (m) => {
  const message = m as RequestMessage;
  if (message && message.kind === 'request') handle(message);
});

// The signalling process went away: nothing left to serve.
process.on('disconnect', () => {
  for (const s of sessions.values()) s.close();
  process.exit(0);
});

setInterval(() => {
  const now = Date.now();
  for (const s of sessions.values()) {
    try {
      s.poll(now);
    } catch (e) {
      log('error', 'media poll failed', { error: e instanceof Error ? e.message : String(e) });
    }
  }
}, POLL_INTERVAL_MS);

setInterval(() => {
  for (const s of sessions.values()) {
    if (!s.handshaking) continue;
    try {
      s.pollHandshakes();
    } catch (e) {
      log('error', 'media handshake poll failed', { error: e instanceof Error ? e.message : String(e) });
    }
  }
}, HANDSHAKE_POLL_MS);

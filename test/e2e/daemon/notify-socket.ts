/**
 * A stand-in for systemd's notification socket: a Unix datagram socket (Node cannot open one, so python3 does),
 * every datagram printed as one JSON line with its arrival time and the sender's pid (SO_PASSCRED, as systemd checks
 * NotifyAccess=main with it). Bounded: python exits after `maxSeconds`.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const RECEIVER = `
import json, os, socket, struct, sys, time
path, max_seconds = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
print(json.dumps({"listening": True}), flush=True)
deadline = time.time() + max_seconds
while time.time() < deadline:
    s.settimeout(max(0.1, deadline - time.time()))
    try:
        data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    except socket.timeout:
        break
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
    print(json.dumps({"t": time.time() * 1000, "pid": pid, "text": data.decode("utf-8", "replace")}), flush=True)
`;

export interface Notification {
  /** Arrival, ms since the epoch. */
  readonly t: number;
  readonly pid: number | null;
  /** The datagram: KEY=value lines. */
  readonly text: string;
  readonly fields: Readonly<Record<string, string>>;
}

export interface NotifySocket {
  readonly path: string;
  readonly received: Notification[];
  /** Resolves with the first notification (received so far or later) matching `predicate`. */
  waitFor(what: string, predicate: (n: Notification) => boolean, timeoutMs: number): Promise<Notification>;
  close(): void;
}

export async function openNotifySocket(path: string, maxSeconds = 120): Promise<NotifySocket> {
  const child: ChildProcess = spawn('python3', ['-c', RECEIVER, path, String(maxSeconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const received: Notification[] = [];
  let err = '';
  let pending = '';
  let listening!: () => void;
  const up = new Promise<void>((resolve) => { listening = resolve; });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout!.on('data', (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const o = JSON.parse(line) as { listening?: boolean; t: number; pid: number | null; text: string };
      if (o.listening) { listening(); continue; }
      const fields = Object.fromEntries(o.text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      received.push({ t: o.t, pid: o.pid, text: o.text, fields });
    }
  });
  const exited = new Promise<void>((_, reject) => {
    child.once('exit', (code) => reject(new Error(`the notification socket receiver exited (${code}): ${err}`)));
  });
  exited.catch(() => undefined);
  await Promise.race([up, exited, new Promise((_, reject) => setTimeout(() => reject(new Error('python3 receiver did not start within 5 s')), 5000).unref())]);
  return {
    path,
    received,
    async waitFor(what, predicate, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = received.find(predicate);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no ${what} notification within ${timeoutMs} ms; received: ${JSON.stringify(received.map((n) => n.text))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => { if (child.exitCode === null) child.kill('SIGKILL'); },
  };
}

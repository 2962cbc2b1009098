/**
 * Free-port allocation for tests. Tests never hard-code ports: several suites (and
 * developers) share this machine. Ports come from a range below the Linux ephemeral
 * range (32768+) so the kernel does not hand them to other sockets meanwhile.
 */
import dgram from 'node:dgram';
import net from 'node:net';

let next = 20000 + Math.floor(Math.random() * 8000) * 2;

/** Whether `port` can be bound on 127.0.0.1 (UDP / TCP). */
export async function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** `count` consecutive ports (even first port), free on UDP and TCP at the time of the call. */
export async function freePorts(count = 1): Promise<number[]> {
  for (let attempt = 0; attempt < 500; attempt++) {
    if (next + count >= 32000) next = 20000;
    const base = next;
    next += count + (count % 2) + 2;
    const ports = Array.from({ length: count }, (_, i) => base + i);
    let ok = true;
    for (const p of ports) {
      if (!(await udpFree(p)) || !(await tcpFree(p))) { ok = false; break; }
    }
    if (ok) return ports;
  }
  throw new Error('freePorts: no free port range found after 500 attempts');
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

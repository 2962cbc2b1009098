/** Packet capture on the loopback interface with dumpcap (classic pcap), bounded in time. */
import fs from 'node:fs';
import { spawnManaged, type ManagedProcess } from './processes.js';
import { waitForPattern, sleep } from './wait.js';
import { parsePcap, type IpPacket } from './pcap.js';

export interface Capture {
  readonly file: string;
  /** Stop capturing (SIGINT so dumpcap flushes) and parse the file. */
  stop(): Promise<IpPacket[]>;
}

/** BPF filter for UDP/TCP traffic on any of `ports`. */
export function portsFilter(ports: readonly number[]): string {
  return `(udp or tcp) and (${ports.map((p) => `port ${p}`).join(' or ')})`;
}

export async function startCapture(file: string, filter: string, maxSeconds = 120): Promise<Capture> {
  const log = `${file}.log`;
  const proc: ManagedProcess = spawnManaged('dumpcap', 'dumpcap', ['-q', '-i', 'lo', '-P', '-f', filter, '-w', file, '-a', `duration:${maxSeconds}`], {
    stdoutFile: log,
    maxMs: (maxSeconds + 10) * 1000,
  });
  try {
    await Promise.race([
      waitForPattern(log, /File:|Capturing on/, 10000),
      proc.exited.then((s) => {
        throw new Error(`dumpcap exited early (${s.code}): ${fs.readFileSync(log, 'utf8')}`);
      }),
    ]);
  } catch (e) {
    await proc.stop(500);
    throw e;
  }
  await sleep(300); // the filter is armed shortly after the announcement
  return {
    file,
    async stop() {
      await sleep(200); // let the last packets in flight be written
      await proc.stop(5000, 'SIGINT');
      return fs.existsSync(file) ? parsePcap(fs.readFileSync(file)) : [];
    },
  };
}

/**
 * One sipp caller and one sipp callee, either directly (harness self-test) or through the b2bua daemon:
 * callee first (it is leg B's outbound-proxy), then the daemon, then the caller; optional loopback capture
 * of both peers' SIP and media ports. Everything the test needs to assert is returned.
 */
import path from 'node:path';
import { freePorts } from './ports.js';
import { startSipp, waitForListening, type SippOptions, type SippResult, type SippRun } from './sipp.js';
import { startB2bua, type B2buaDaemon, type B2buaOptions } from './b2bua.js';
import { startCapture, portsFilter } from './capture.js';
import type { IpPacket } from './pcap.js';
import { writeToneFiles, type ToneFiles } from './tones.js';

export type PeerSpec = Omit<SippOptions, 'runDir' | 'name' | 'remote' | 'port' | 'mediaPort'> & { readonly name?: string };

export interface CallPairOptions {
  readonly runDir: string;
  readonly caller: PeerSpec;
  readonly callee: PeerSpec;
  /** Run the call through a b2bua-server with these options (outbound-proxy is set to the callee). */
  readonly through?: Omit<B2buaOptions, 'runDir' | 'outboundProxy' | 'transport'> & { readonly transport?: 'udp' | 'tcp' };
  /** Capture both peers' SIP and media ports on lo. */
  readonly capture?: boolean;
  /** How long the callee may keep running once the caller has finished (default 6 s), then it is stopped. */
  readonly calleeGraceMs?: number;
  /** Called once the daemon is up and before the caller starts (e.g. to start a first call). */
  readonly beforeCaller?: (ctx: { b2bua?: B2buaDaemon; calleeRun: SippRun; runDir: string }) => Promise<void>;
}

export interface CallPairResult {
  readonly caller: SippResult;
  readonly callee: SippResult;
  readonly callerRun: SippRun;
  readonly calleeRun: SippRun;
  readonly b2bua?: B2buaDaemon;
  readonly packets: IpPacket[];
  readonly report: string;
}

/** Tone files shared by the tests of one run dir: caller plays 440 Hz, callee 880 Hz. */
export function standardTones(runDir: string): { caller: ToneFiles; callee: ToneFiles } {
  const dir = path.join(runDir, 'tones');
  return { caller: writeToneFiles(dir, 440), callee: writeToneFiles(dir, 880) };
}

/** Live state of the pair being run, so that an afterEach can report on a failure. */
export const current: { b2bua?: B2buaDaemon; runs: SippRun[]; runDir?: string } = { runs: [] };

export async function runCallPair(o: CallPairOptions): Promise<CallPairResult> {
  current.runs = [];
  current.b2bua = undefined;
  current.runDir = o.runDir;
  const [callerPort] = await freePorts(1);
  const [callerMedia] = await freePorts(4);
  const [calleePort] = await freePorts(1);
  const [calleeMedia] = await freePorts(4);
  const calleeTransport = o.callee.transport ?? 'udp';
  const callerTransport = o.caller.transport ?? 'udp';
  const capture = o.capture
    ? await startCapture(
        path.join(o.runDir, 'call.pcap'),
        portsFilter([callerPort!, callerMedia!, callerMedia! + 1, callerMedia! + 2, calleePort!, calleeMedia!, calleeMedia! + 1, calleeMedia! + 2]),
        90,
      )
    : undefined;
  const calleeRun = await startSipp({ ...o.callee, name: o.callee.name ?? 'callee', runDir: o.runDir, port: calleePort, mediaPort: calleeMedia });
  current.runs.push(calleeRun);
  await waitForListening(calleePort!, calleeTransport);
  let b2bua: B2buaDaemon | undefined;
  let remote = `127.0.0.1:${calleePort}`;
  if (o.through) {
    b2bua = await startB2bua({
      ...o.through,
      runDir: o.runDir,
      transport: o.through.transport ?? callerTransport,
      outboundProxy: `sip:127.0.0.1:${calleePort};transport=${calleeTransport}`,
    });
    current.b2bua = b2bua;
    remote = b2bua.address;
  }
  await o.beforeCaller?.({ b2bua, calleeRun, runDir: o.runDir });
  const callerRun = await startSipp({ ...o.caller, name: o.caller.name ?? 'caller', runDir: o.runDir, remote, port: callerPort, mediaPort: callerMedia });
  current.runs.push(callerRun);
  const caller = await callerRun.result();
  // a callee still waiting (e.g. for a BYE the b2bua never relayed) is stopped after a grace period
  const grace = setTimeout(() => void calleeRun.process.stop(1000), o.calleeGraceMs ?? 6000);
  const callee = await calleeRun.result();
  clearTimeout(grace);
  const packets = capture ? await capture.stop() : [];
  const report = [caller.summary, callee.summary, b2bua ? `b2bua log: ${b2bua.logFile}` : '', `run dir: ${o.runDir}`].filter(Boolean).join('\n');
  return { caller, callee, callerRun, calleeRun, b2bua, packets, report };
}

/**
 * The sip-bridge test bed: a sipp fake ITSP (scenarios/sip-bridge/uas_itsp.xml: digest 401 on REGISTER and INVITE,
 * verifyauth, answers with a tone) and a b2bua-server daemon with application=sip-bridge whose providers file
 * (test/fixtures/sip-bridge/providers-itsp.template.json) points at that ITSP.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { startCapture, portsFilter, type Capture } from '../../harness/capture.js';
import { freePorts } from '../../harness/ports.js';
import { startSipp, waitForListening, type SippRun } from '../../harness/sipp.js';
import { standardTones } from '../../harness/call-pair.js';
import type { IpPacket } from '../../harness/pcap.js';
import type { Tones } from '../../harness/call-scenarios.js';
import { StopWaiting, waitUntil } from '../../harness/wait.js';

export const ITSP_USER = 'line1';
export const ITSP_PASSWORD = 'pw1';
export const ITSP_REALM = 'itsp.example.net';
export const ACCOUNT_URI = 'sip:line1@itsp.example.net';
const TEMPLATE = path.join(REPO_ROOT, 'test/fixtures/sip-bridge/providers-itsp.template.json');

export interface BridgeEnv {
  readonly runDir: string;
  readonly tones: Tones;
  readonly itsp: SippRun;
  readonly b2bua: B2buaDaemon;
  readonly providersFile: string;
}

export interface BridgeEnvOptions {
  readonly runDir: string;
  /** The password the account is configured with (the ITSP always expects ITSP_PASSWORD). */
  readonly accountSecret: string;
  /** sipp "calls" the ITSP handles before it exits by itself (each REGISTER exchange and each INVITE counts one). */
  readonly itspCalls: number;
  /** <pause/> of the ITSP between 180 and 200. */
  readonly itspRingMs?: number;
  readonly maxSeconds: number;
  /** More [b2bua-server] keys for the daemon. */
  readonly settings?: Record<string, string | number | boolean>;
}

/** The providers file of the fixture for an ITSP on `itspPort`, with the account's secret replaced. */
export function writeProvidersFile(runDir: string, itspPort: number, secret: string): string {
  const text = fs.readFileSync(TEMPLATE, 'utf8').split('@ITSP_PORT@').join(String(itspPort));
  const providers = JSON.parse(text) as { accountPools: Record<string, { loader: { secret?: string }[] }> };
  for (const pool of Object.values(providers.accountPools)) for (const account of pool.loader) account.secret = secret;
  const file = path.join(runDir, 'providers.json');
  fs.writeFileSync(file, JSON.stringify(providers, null, 2));
  return file;
}

export async function startBridgeEnv(o: BridgeEnvOptions): Promise<BridgeEnv> {
  const tones = standardTones(o.runDir);
  const [itspPort] = await freePorts(1);
  const [itspMedia] = await freePorts(4);
  const itsp = await startSipp({
    name: 'itsp',
    runDir: o.runDir,
    scenario: 'sip-bridge/uas_itsp.xml',
    port: itspPort,
    mediaPort: itspMedia,
    calls: o.itspCalls,
    concurrent: 4,
    pauseMs: o.itspRingMs ?? 300,
    keys: { user: ITSP_USER, pass: ITSP_PASSWORD, realm: ITSP_REALM, rtp: `${tones.callee.ulaw},-1,0` },
    maxSeconds: o.maxSeconds,
    // a later REGISTER of the line reuses its Call-ID (RFC 3261 10.2.4): sipp must not swallow it as a "dead call"
    extraArgs: ['-deadcall_wait', '100'],
  });
  await waitForListening(itsp.port, 'udp');
  const providersFile = writeProvidersFile(o.runDir, itsp.port, o.accountSecret);
  const b2bua = await startB2bua({
    runDir: o.runDir,
    // leg B goes where the providers file says; the harness wants an outbound proxy anyway
    outboundProxy: `sip:127.0.0.1:${itsp.port};transport=udp`,
    settings: { application: 'sip-bridge', ...o.settings },
    extraIni: `[b2bua-server::sip-bridge]\nproviders=${providersFile}`,
    maxSeconds: o.maxSeconds,
  });
  return { runDir: o.runDir, tones, itsp, b2bua, providersFile };
}

export interface RegistrationLogLine {
  readonly account?: string;
  readonly state?: string;
  readonly reason?: string;
}

/** Registration state changes the plugin logged ("registration state changed"), oldest first. */
export function registrationChanges(b2bua: B2buaDaemon): RegistrationLogLine[] {
  return b2bua.logLines().filter((l) => l['msg'] === 'registration state changed');
}

/** Wait until the plugin logs `state` for the account (fails early when the daemon exits). */
export function waitForRegistration(b2bua: B2buaDaemon, state: 'registered' | 'failed', timeoutMs: number): Promise<RegistrationLogLine> {
  return waitUntil(`"registration state changed" to ${state} in ${b2bua.logFile}`, () => {
    if (!b2bua.process.isRunning()) throw new StopWaiting(`b2bua-server exited:\n${b2bua.logTail(20)}`);
    return registrationChanges(b2bua).find((l) => l.account === ACCOUNT_URI && l.state === state);
  }, timeoutMs, 100);
}

/** Value of the first `name:` header of a SIP message (compact forms not needed: sipp and our stack write long forms). */
export function headerOf(message: string, name: string): string | undefined {
  const m = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'im').exec(message);
  return m?.[1]?.trim();
}

/**
 * The SIP messages of captured packets with their ports: a UDP datagram each; TCP segments cut at each start line (a
 * segment may carry several messages on loopback; the messages of these tests are small enough never to be split
 * across segments, and the tests check that every message starts with a start line).
 */
export function sipMessagesOf(packets: readonly IpPacket[]): { srcPort: number; dstPort: number; text: string }[] {
  return packets.flatMap((p) => {
    const text = p.payload.toString('latin1');
    if (p.protocol === 'udp') return [{ srcPort: p.srcPort, dstPort: p.dstPort, text }];
    return text.split(/(?=^(?:[A-Z]+ sips?:\S+ SIP\/2\.0|SIP\/2\.0 \d{3} )[^\r\n]*\r\n)/m)
      .filter((m) => m.trim() !== '')
      .map((m) => ({ srcPort: p.srcPort, dstPort: p.dstPort, text: m }));
  });
}

/**
 * A providers file whose one pool `itsp` (registrationRequired, maxCallsPerLine 1) reads its accounts with `loader`
 * (an SQL loader object); provider ITSP takes the calls to numbers, the To templated on the account's host.
 */
export function sqlProvidersFile(runDir: string, loader: object): string {
  const file = path.join(runDir, 'providers.json');
  fs.writeFileSync(file, JSON.stringify({
    schemaVersion: 2,
    providers: [{
      name: 'ITSP', accountPool: 'itsp', triggerCondition: { strategy: 'MatchRegex', pattern: 'sip:\\+?[0-9]+@.*' }, accountToUse: { strategy: 'Random' },
      onAccountNotFound: 'decline', outgoingInvite: { to: 'sip:{incoming.requestUri.user}@{account.uri.hostport}' },
    }],
    accountPools: { itsp: { registrationRequired: true, maxCallsPerLine: 1, loader } },
  }, null, 2));
  return file;
}

/**
 * The peers of a call from the trunk: free ports for the trunk caller (SIP, media), the internal answerer (uas_answer.xml
 * on `internalPort`, answering with `rtp`) started, and a capture of both sides' SIP and media.
 */
export async function startInboundPeers(o: { runDir: string; name: string; internalPort: number; rtp: string; seconds: number }):
Promise<{ callerPort: number; callerMedia: number; internalMedia: number; capture: Capture; internal: SippRun }> {
  const [callerPort] = await freePorts(1);
  const [callerMedia] = await freePorts(4);
  const [internalMedia] = await freePorts(4);
  const capture = await startCapture(path.join(o.runDir, 'inbound.pcap'),
    portsFilter([callerPort!, callerMedia!, callerMedia! + 1, o.internalPort, internalMedia!, internalMedia! + 1]), o.seconds + 10);
  const internal = await startSipp({
    name: o.name, runDir: o.runDir, scenario: 'uas_answer.xml', port: o.internalPort, mediaPort: internalMedia,
    pauseMs: 300, keys: { rtp: o.rtp }, maxSeconds: o.seconds,
  });
  return { callerPort: callerPort!, callerMedia: callerMedia!, internalMedia: internalMedia!, capture, internal };
}

/**
 * `one-connection-per-account=true` ([b2bua-server]), against the compiled daemon: each sip-bridge account has its own
 * UDP socket, as Flexisip's accounts_channel_isolation. A sipp ITSP (scenarios/sip-bridge/uas_itsp_trunk.xml: digest on
 * REGISTER and INVITE) is the provider registrar; what it sees is read from a dumpcap capture (source ports) and
 * sipp's message log (Contact, Via).
 * (a) line1 and line2 REGISTER from two distinct ports, neither the server's transport port; Contact and Via name them.
 * (b) a call placed through line1 (Outbound provider, FindInPool by alias) leaves from line1's port: INVITE, its
 *     authenticated retry, ACK and BYE; media both ways.
 * (c) a call from the trunk to line1's Contact reaches us on line1's port and is bridged to line1's alias, media both ways.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';
import { startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { standardTones } from '../../harness/call-pair.js';
import type { Tones } from '../../harness/call-scenarios.js';
import { startCapture, portsFilter } from '../../harness/capture.js';
import { describeFlows, packetsTo, summarizeFlows, toneSecondsIn } from '../../harness/flows.js';
import type { IpPacket } from '../../harness/pcap.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir, tail } from '../../harness/run-dir.js';
import { received, startSipp, waitForListening, type SippRun } from '../../harness/sipp.js';
import { requireTools } from '../../harness/tools.js';
import { StopWaiting, readIfExists, waitUntil } from '../../harness/wait.js';
import { providerPair } from '../../harness/sip-bridge-providers.js';
import { headerOf, registrationChanges, startInboundPeers } from './bridge-env.js';

const USER = 'line1';
const PASSWORD = 'pw1';
const REALM = 'itsp.example.net';
const LINES = ['sip:line1@itsp.example.net', 'sip:line2@itsp.example.net'] as const;
const ALICE = 'sip:alice@internal.example.org';
const CALL_SECONDS = 25;

interface Env {
  readonly runDir: string;
  readonly tones: Tones;
  readonly itsp: SippRun;
  readonly b2bua: B2buaDaemon;
  readonly internalPort: number;
  /** Packets to and from the ITSP's SIP port until both lines registered. */
  readonly registrations: IpPacket[];
}

function providers(itspPort: number, internalPort: number): unknown {
  const line = (user: string, alias: string) => ({
    uri: `sip:${user}@itsp.example.net`, alias, userid: USER, secretType: 'clrtxt', secret: PASSWORD, registrar: `127.0.0.1:${itspPort}`, protocol: 'udp',
  });
  return {
    schemaVersion: 2,
    providers: providerPair({ internal: 'Flexisip', external: 'ITSP' }, 'lines', `<sip:127.0.0.1:${internalPort};transport=udp>`),
    accountPools: {
      lines: {
        outboundProxy: `<sip:127.0.0.1:${itspPort};transport=udp>`, registrationRequired: true, maxCallsPerLine: 4,
        loader: [line('line1', ALICE), line('line2', 'sip:bob@internal.example.org')],
      },
    },
  };
}

const texts = (packets: readonly IpPacket[]): { srcPort: number; dstPort: number; text: string }[] =>
  packets.filter((p) => p.protocol === 'udp').map((p) => ({ srcPort: p.srcPort, dstPort: p.dstPort, text: p.payload.toString('latin1') }));

/** Source ports of the requests `method` sent to the ITSP, by the account in their To (REGISTER) or From (calls). */
function sourcePorts(packets: readonly IpPacket[], itspPort: number, method: string, header: 'To' | 'From'): Map<string, Set<number>> {
  const by = new Map<string, Set<number>>();
  for (const m of texts(packets).filter((t) => t.dstPort === itspPort && t.text.startsWith(`${method} `))) {
    const who = /<([^>;]+)/.exec(headerOf(m.text, header) ?? '')?.[1] ?? '?';
    by.set(who, new Set([...(by.get(who) ?? []), m.srcPort]));
  }
  return by;
}

function report(env: Env | undefined): string {
  if (!env) return '';
  return [`run dir: ${env.runDir}`, `--- b2bua log tail (${env.b2bua.logFile}):`, env.b2bua.logTail(30), '--- itsp errors:', tail(env.itsp.files.errors, 10)].join('\n');
}

describe('sip-bridge: one-connection-per-account=true (a UDP socket per account)', function () {
  this.timeout(90000);
  let env: Env | undefined;
  /** line → its socket's port, from (a). */
  const portOf = new Map<string, number>();

  before(async function () {
    requireTools(['sipp', 'dumpcap', 'ss']);
    const runDir = createRunDir('sip-bridge-one-connection');
    const tones = standardTones(runDir);
    const [itspPort, internalPort] = await freePorts(2);
    const [itspMedia] = await freePorts(4);
    const itsp = await startSipp({
      name: 'itsp', runDir, scenario: 'sip-bridge/uas_itsp_trunk.xml', template: { ITSP_USER: USER }, port: itspPort, mediaPort: itspMedia,
      calls: 1000, concurrent: 4, pauseMs: 300, keys: { user: USER, pass: PASSWORD, realm: REALM, rtp: `${tones.callee.ulaw},-1,0` },
      maxSeconds: 120, extraArgs: ['-deadcall_wait', '100'],
    });
    await waitForListening(itsp.port, 'udp');
    const capture = await startCapture(path.join(runDir, 'registrations.pcap'), portsFilter([itsp.port]), 40);
    const file = path.join(runDir, 'providers.json');
    fs.writeFileSync(file, JSON.stringify(providers(itsp.port, internalPort!), null, 2));
    const b2bua = await startB2bua({
      runDir, outboundProxy: `sip:127.0.0.1:${itsp.port};transport=udp`, settings: { application: 'sip-bridge', 'one-connection-per-account': true },
      extraIni: `[b2bua-server::sip-bridge]\nproviders=${file}`, maxSeconds: 120,
    });
    for (const account of LINES) {
      await waitUntil(`${account} registered in ${b2bua.logFile}`, () => {
        if (!b2bua.process.isRunning()) throw new StopWaiting(`b2bua-server exited:\n${b2bua.logTail(20)}`);
        return registrationChanges(b2bua).find((l) => l.account === account && l.state === 'registered');
      }, 10000, 100);
    }
    const registrations = await capture.stop();
    env = { runDir, tones, itsp, b2bua, internalPort: internalPort!, registrations };
  });
  afterEach(function (this: Context) {
    if (this.currentTest?.state === 'failed') console.log(report(env));
  });
  after(() => stopAllStarted());

  it('(a) each line REGISTERs from its own port, not the server\'s; Contact and Via name that port', () => {
    const { b2bua, itsp, registrations } = env!;
    const ports = sourcePorts(registrations, itsp.port, 'REGISTER', 'To');
    for (const account of LINES) {
      const from = [...(ports.get(account) ?? [])];
      assert.equal(from.length, 1, `${account}: REGISTERs from one port (got ${from.join(' ')}); all: ${JSON.stringify([...ports].map(([k, v]) => [k, [...v]]))}`);
      assert.notEqual(from[0], b2bua.port, `${account} REGISTERs from the server's transport port ${b2bua.port}`);
      portOf.set(account, from[0]!);
    }
    assert.notEqual(portOf.get(LINES[0]), portOf.get(LINES[1]), 'the two lines share a port');
    const registers = received(readIfExists(itsp.files.messages), /^REGISTER /);
    for (const account of LINES) {
      const mine = registers.filter((r) => (headerOf(r, 'To') ?? '').includes(account));
      assert.ok(mine.length >= 2, `${account}: REGISTER + its authenticated retry`);
      const user = /sip:([^@]+)@/.exec(account)![1]!;
      for (const r of mine) {
        assert.equal(/<([^>]+)>/.exec(headerOf(r, 'Contact') ?? '')?.[1], `sip:${user}@${b2bua.host}:${portOf.get(account)}`, `Contact of ${account}:\n${r}`);
        assert.match(headerOf(r, 'Via') ?? '', new RegExp(`^SIP/2.0/UDP [^:]+:${portOf.get(account)};`), `Via of ${account}:\n${r}`);
      }
    }
  });

  it('(b) a call through line1 leaves from line1\'s port (INVITE, ACK, BYE), media both ways', async () => {
    const { b2bua, itsp, tones, runDir } = env!;
    assert.ok(portOf.size === 2, '(a) found the ports');
    const dialed = '4010612345678';
    const [callerPort] = await freePorts(1);
    const [callerMedia] = await freePorts(4);
    const capture = await startCapture(path.join(runDir, 'outbound.pcap'),
      portsFilter([callerPort!, callerMedia!, callerMedia! + 1, itsp.port, itsp.mediaPort, itsp.mediaPort + 1]), CALL_SECONDS + 10);
    const caller = await startSipp({
      name: 'alice-out', runDir, scenario: 'sip-bridge/uac_trunk.xml', remote: b2bua.address, port: callerPort, mediaPort: callerMedia,
      pauseMs: 4000, maxSeconds: CALL_SECONDS,
      keys: { ruri: `sip:${dialed}@internal.example.org`, from_uri: ALICE, to_uri: `sip:${dialed}@internal.example.org`, rtp: `${tones.caller.ulaw},-1,0` },
    });
    const rc = await caller.result();
    const packets = await capture.stop();
    const info = `flows:\n${describeFlows(summarizeFlows(packets, [440, 880]))}\n${rc.summary}`;
    assert.equal(rc.code, 0, `internal caller: ${info}`);
    const line1 = portOf.get(LINES[0])!;
    for (const method of ['INVITE', 'ACK', 'BYE']) {
      const ports = sourcePorts(packets, itsp.port, method, 'From');
      assert.deepEqual([...(ports.get(LINES[0]) ?? [])], [line1], `${method}s of the call through line1 from line1's port ${line1}: ${JSON.stringify([...ports].map(([k, v]) => [k, [...v]]))}`);
    }
    const invites = received(readIfExists(itsp.files.messages), new RegExp(`^INVITE sip:${dialed}@`));
    assert.equal(invites.length, 2, 'challenged once, then with credentials');
    assert.equal(/<([^>]+)>/.exec(headerOf(invites[1]!, 'Contact') ?? '')?.[1]?.replace(/^sip:[^@]*@/, ''), `${b2bua.host}:${line1}`, `Contact on line1's port:\n${invites[1]}`);
    const atItsp = toneSecondsIn(packetsTo(packets, itsp.mediaPort), 440);
    const atCaller = toneSecondsIn(packetsTo(packets, callerMedia!), 880);
    assert.ok(atItsp >= 2, `the ITSP received ${atItsp} s of the caller's 440 Hz\n${info}`);
    assert.ok(atCaller >= 2, `the caller received ${atCaller} s of the ITSP's 880 Hz\n${info}`);
  });

  it('(c) a call from the trunk to line1\'s Contact arrives on line1\'s port and reaches line1\'s alias, media both ways', async () => {
    const { b2bua, tones, runDir, internalPort } = env!;
    const line1 = portOf.get(LINES[0])!;
    assert.ok(line1, '(a) found the ports');
    const { callerPort, callerMedia, internalMedia, capture, internal } = await startInboundPeers({ runDir, name: 'alice-in', internalPort, rtp: `${tones.callee.ulaw},-1,0`, seconds: CALL_SECONDS });
    await waitForListening(internalPort, 'udp');
    const caller = await startSipp({
      name: 'pstn-in', runDir, scenario: 'sip-bridge/uac_trunk.xml', remote: `${b2bua.host}:${line1}`, port: callerPort, mediaPort: callerMedia,
      pauseMs: 4000, maxSeconds: CALL_SECONDS,
      keys: { ruri: `sip:line1@${b2bua.host}:${line1}`, from_uri: 'sip:+33600000001@itsp.example.net', to_uri: LINES[0], rtp: `${tones.caller.ulaw},-1,0` },
    });
    const rc = await caller.result();
    const ri = await internal.result();
    const packets = await capture.stop();
    const info = `flows:\n${describeFlows(summarizeFlows(packets, [440, 880]))}\n${rc.summary}\n${ri.summary}`;
    assert.equal(rc.code, 0, `trunk caller: ${info}`);
    assert.equal(ri.code, 0, `internal alias: ${info}`);
    const answers = texts(packets).filter((t) => t.dstPort === callerPort && t.text.startsWith('SIP/2.0 200 '));
    assert.ok(answers.length > 0 && answers.every((t) => t.srcPort === line1), `the answers to the trunk caller leave from line1's port ${line1}`);
    assert.match(received(ri.messages, /^INVITE /)[0] ?? '', new RegExp(`^INVITE ${ALICE.replace(/\./g, '\\.')} SIP/2.0`, 'm'), 'bridged to line1\'s alias');
    assert.ok(toneSecondsIn(packetsTo(packets, internalMedia), 440) >= 2, `the alias got the trunk caller's tone\n${info}`);
    assert.ok(toneSecondsIn(packetsTo(packets, callerMedia), 880) >= 2, `the trunk caller got the alias's tone\n${info}`);
  });
});

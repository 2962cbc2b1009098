/**
 * `one-connection-per-account=true` ([b2bua-server]), against the compiled daemon: each sip-bridge account has its own
 * UDP socket, as Flexisip's accounts_channel_isolation. A sipp ITSP (scenarios/sip-bridge/uas_itsp_trunk.xml: digest on
 * REGISTER and INVITE) is the provider registrar; what it sees is read from a dumpcap capture (source ports) and
 * sipp's message log (Contact, Via).
 * (a) line1 and line2 REGISTER from two distinct ports, neither the server's transport port; Contact and Via name them.
 * (b) a call placed through line1 (Outbound provider, FindInPool by alias) leaves from line1's port: INVITE, its
 *     authenticated retry, ACK and BYE; media both ways.
 * (c) a call from the trunk to line1's Contact reaches us on line1's port and is bridged to line1's alias, media both ways.
 * TCP (the ITSP is sipp over TCP, the accounts' outbound proxy ;transport=tcp): each account has a listener and a
 * connection of its own.
 * (d) line1 and line2 REGISTER on two connections (two source ports, neither the server's); Contact and Via name each
 *     account's own listening port (;transport=tcp), two ports, neither the server's.
 * (e) a call through line1 and one through line2: each INVITE (its authenticated retry), ACK and BYE arrive on the
 *     connection its account registered on; the ITSP's BYE comes back on it; media both ways.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';
import { startB2bua, type B2buaDaemon } from '../../harness/b2bua.js';
import { standardTones } from '../../harness/call-pair.js';
import type { Tones } from '../../harness/call-scenarios.js';
import { startCapture, portsFilter, type Capture } from '../../harness/capture.js';
import { describeFlows, packetsTo, summarizeFlows, toneSecondsIn } from '../../harness/flows.js';
import type { IpPacket } from '../../harness/pcap.js';
import { freePorts } from '../../harness/ports.js';
import { stopAllStarted } from '../../harness/processes.js';
import { createRunDir, tail } from '../../harness/run-dir.js';
import { received, startSipp, waitForListening, type SippRun } from '../../harness/sipp.js';
import { requireTools } from '../../harness/tools.js';
import { StopWaiting, readIfExists, waitUntil } from '../../harness/wait.js';
import { providerPair } from '../../harness/sip-bridge-providers.js';
import { headerOf, registrationChanges, sipMessagesOf, startInboundPeers } from './bridge-env.js';

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

function providers(itspPort: number, internalPort: number, protocol: 'udp' | 'tcp' = 'udp'): unknown {
  const line = (user: string, alias: string) => ({
    uri: `sip:${user}@itsp.example.net`, alias, userid: USER, secretType: 'clrtxt', secret: PASSWORD, registrar: `127.0.0.1:${itspPort}`, protocol,
  });
  return {
    schemaVersion: 2,
    providers: providerPair({ internal: 'Flexisip', external: 'ITSP' }, 'lines', `<sip:127.0.0.1:${internalPort};transport=udp>`),
    accountPools: {
      lines: {
        outboundProxy: `<sip:127.0.0.1:${itspPort};transport=${protocol}>`, registrationRequired: true, maxCallsPerLine: 4,
        loader: [line('line1', ALICE), line('line2', 'sip:bob@internal.example.org')],
      },
    },
  };
}

const texts = sipMessagesOf;

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

/**
 * The sipp ITSP over `protocol` (registrar, outbound proxy, callee), a capture of its SIP port, then the daemon with
 * one-connection-per-account=true and the two lines on that ITSP, once both registered.
 */
async function startItspAndB2bua(protocol: 'udp' | 'tcp', name: string, pcap: string, captureSeconds: number): Promise<Omit<Env, 'registrations'> & { capture: Capture }> {
  requireTools(['sipp', 'dumpcap', 'ss']);
  const runDir = createRunDir(name);
  const tones = standardTones(runDir);
  const [itspPort, internalPort] = await freePorts(2);
  const [itspMedia] = await freePorts(4);
  const itsp = await startSipp({
    name: 'itsp', runDir, scenario: 'sip-bridge/uas_itsp_trunk.xml', template: { ITSP_USER: USER }, port: itspPort, mediaPort: itspMedia, transport: protocol,
    calls: 1000, concurrent: 4, pauseMs: 300, keys: { user: USER, pass: PASSWORD, realm: REALM, rtp: `${tones.callee.ulaw},-1,0` },
    maxSeconds: 150, extraArgs: ['-deadcall_wait', '100'],
  });
  await waitForListening(itsp.port, protocol);
  const capture = await startCapture(path.join(runDir, pcap), portsFilter([itsp.port]), captureSeconds);
  const file = path.join(runDir, 'providers.json');
  fs.writeFileSync(file, JSON.stringify(providers(itsp.port, internalPort!, protocol), null, 2));
  const b2bua = await startB2bua({
    runDir, outboundProxy: `sip:127.0.0.1:${itsp.port};transport=${protocol}`, settings: { application: 'sip-bridge', 'one-connection-per-account': true },
    extraIni: `[b2bua-server::sip-bridge]\nproviders=${file}`, maxSeconds: 150,
  });
  for (const account of LINES) {
    await waitUntil(`${account} registered in ${b2bua.logFile}`, () => {
      if (!b2bua.process.isRunning()) throw new StopWaiting(`b2bua-server exited:\n${b2bua.logTail(20)}`);
      return registrationChanges(b2bua).find((l) => l.account === account && l.state === 'registered');
    }, 10000, 100);
  }
  return { runDir, tones, itsp, b2bua, internalPort: internalPort!, capture };
}

describe('sip-bridge: one-connection-per-account=true (a UDP socket per account)', function () {
  this.timeout(90000);
  let env: Env | undefined;
  /** line → its socket's port, from (a). */
  const portOf = new Map<string, number>();

  before(async function () {
    const started = await startItspAndB2bua('udp', 'sip-bridge-one-connection', 'registrations.pcap', 40);
    const registrations = await started.capture.stop();
    env = { ...started, registrations };
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

describe('sip-bridge: one-connection-per-account=true over TCP (a listener and a connection per account)', function () {
  this.timeout(120000);
  let env: Env | undefined;
  /** line → the source port of the connection its REGISTERs came on, from (d). */
  const connectionOf = new Map<string, number>();

  before(async function () {
    // One capture of the ITSP's port for the whole test: TCP connections outlive the registrations.
    const started = await startItspAndB2bua('tcp', 'sip-bridge-one-connection-tcp', 'itsp.pcap', 100);
    itspCapture = started.capture;
    env = { ...started, registrations: [] };
  });
  let itspCapture: Capture | undefined;
  afterEach(function (this: Context) {
    if (this.currentTest?.state === 'failed') console.log(report(env));
  });
  after(async () => { await itspCapture?.stop().catch(() => undefined); await stopAllStarted(); });

  it('(d) each line REGISTERs on a connection of its own; Contact and Via name its own listening port (;transport=tcp)', () => {
    const { b2bua, itsp } = env!;
    const registers = received(readIfExists(itsp.files.messages), /^REGISTER /);
    const contactPorts = new Map<string, Set<number>>();
    for (const account of LINES) {
      const mine = registers.filter((r) => (headerOf(r, 'To') ?? '').includes(account));
      assert.ok(mine.length >= 2, `${account}: REGISTER + its authenticated retry`);
      const user = /sip:([^@]+)@/.exec(account)![1]!;
      for (const r of mine) {
        const contact = /<([^>]+)>/.exec(headerOf(r, 'Contact') ?? '')?.[1] ?? '';
        const m = new RegExp(`^sip:${user}@${b2bua.host.replace(/\./g, '\\.')}:(\\d+);transport=tcp$`).exec(contact);
        assert.ok(m, `Contact of ${account} names our address, a port and ;transport=tcp:\n${r}`);
        const port = Number(m[1]);
        contactPorts.set(account, new Set([...(contactPorts.get(account) ?? []), port]));
        assert.match(headerOf(r, 'Via') ?? '', new RegExp(`^SIP/2.0/TCP [^:]+:${port};`), `Via of ${account} on its Contact's port:\n${r}`);
      }
    }
    const [c1, c2] = LINES.map((a) => [...contactPorts.get(a)!]);
    assert.equal(c1!.length, 1, `line1: one Contact port (${c1!.join(' ')})`);
    assert.equal(c2!.length, 1, `line2: one Contact port (${c2!.join(' ')})`);
    assert.notEqual(c1![0], c2![0], 'the two lines share a listening port');
    for (const c of [c1![0], c2![0]]) assert.notEqual(c, b2bua.port, 'an account listens on the server\'s transport port');
  });

  it('(e) a call through each line: its INVITEs, ACK and BYE on the connection its line registered on; media both ways', async () => {
    const { b2bua, itsp, tones, runDir } = env!;
    const outboundCall = async (from: string, dialed: string, name: string): Promise<void> => {
      const [callerPort] = await freePorts(1);
      const [callerMedia] = await freePorts(4);
      const capture = await startCapture(path.join(runDir, `${name}.pcap`), portsFilter([callerMedia!, callerMedia! + 1, itsp.mediaPort, itsp.mediaPort + 1]), CALL_SECONDS + 10);
      const caller = await startSipp({
        name, runDir, scenario: 'sip-bridge/uac_trunk.xml', remote: b2bua.address, port: callerPort, mediaPort: callerMedia,
        pauseMs: 4000, maxSeconds: CALL_SECONDS,
        keys: { ruri: `sip:${dialed}@internal.example.org`, from_uri: from, to_uri: `sip:${dialed}@internal.example.org`, rtp: `${tones.caller.ulaw},-1,0` },
      });
      const rc = await caller.result();
      const media = await capture.stop();
      const info = `flows:\n${describeFlows(summarizeFlows(media, [440, 880]))}\n${rc.summary}`;
      assert.equal(rc.code, 0, `internal caller ${from}: ${info}`);
      assert.ok(toneSecondsIn(packetsTo(media, itsp.mediaPort), 440) >= 2, `the ITSP received the caller's 440 Hz (${from})\n${info}`);
      assert.ok(toneSecondsIn(packetsTo(media, callerMedia!), 880) >= 2, `the caller received the ITSP's 880 Hz (${from})\n${info}`);
    };
    await outboundCall(ALICE, '4010611111111', 'alice-out-tcp');
    await outboundCall('sip:bob@internal.example.org', '4010622222222', 'bob-out-tcp');
    const packets = await itspCapture!.stop();
    itspCapture = undefined;
    const sent = texts(packets.filter((p) => p.protocol === 'tcp'));
    assert.ok(sent.every((t) => /^(?:[A-Z]+ |SIP\/2\.0 )/.test(t.text)), 'every TCP segment starts with a start line (no message split across segments)');
    const toItsp = sent.filter((t) => t.dstPort === itsp.port);
    const registerPorts = sourcePorts(packets, itsp.port, 'REGISTER', 'To');
    for (const account of LINES) {
      const from = [...(registerPorts.get(account) ?? [])];
      assert.equal(from.length, 1, `${account}: its REGISTERs on one connection (got ${from.join(' ')})`);
      assert.notEqual(from[0], b2bua.port);
      connectionOf.set(account, from[0]!);
    }
    assert.notEqual(connectionOf.get(LINES[0]), connectionOf.get(LINES[1]), 'the two lines share a connection');
    for (const method of ['INVITE', 'ACK', 'BYE']) {
      const ports = sourcePorts(packets, itsp.port, method, 'From');
      for (const account of LINES) {
        assert.deepEqual([...(ports.get(account) ?? [])], [connectionOf.get(account)], `${method}s of the call through ${account} on the connection it registered on (${connectionOf.get(account)}): ${JSON.stringify([...ports].map(([k, v]) => [k, [...v]]))}`);
      }
    }
    const invites = received(readIfExists(itsp.files.messages), /^INVITE sip:40106/);
    assert.equal(invites.length, 4, 'each call challenged once, then with credentials');
    // The ITSP's answers come back on the same connections (sipp answers on the one a request came on).
    const answers = toItsp.length > 0 ? sent.filter((t) => t.srcPort === itsp.port && /^SIP\/2\.0 200 .*\r\nCSeq: \d+ INVITE/s.test(t.text)) : [];
    assert.deepEqual(new Set(answers.map((a) => a.dstPort)), new Set(LINES.map((a) => connectionOf.get(a))), 'the 200s to the INVITEs on the accounts\' connections');
  });
});

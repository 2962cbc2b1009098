/**
 * one-connection-per-account in sip-bridge (account-transports.ts), on a real SipStack through the host's PluginSipApi:
 * at most one socket a line (also when two openFor race), each on its own port; closed on removal and at shutdown;
 * a line whose socket cannot be opened (TCP outbound proxy) is unavailable with the reason, not a crash; REGISTERs of
 * a line with a socket name its port in Contact and carry it.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseIni } from '../../../core/config/ini.js';
import { configFileView } from '../../../core/plugin-host/index.js';
import { createPluginSipApi } from '../../../core/b2bua/sip-api.js';
import { silentLogger } from '../../../core/log/index.js';
import type { PluginSipApi } from '../../../core/plugin-api/index.js';
import { SipStack } from '../../../core/sip/stack.js';
import { buildPools, type Line } from '../../../plugins/sip-bridge/accounts.js';
import { AccountTransports, listensOnTls, protocolOf } from '../../../plugins/sip-bridge/account-transports.js';
import { Registrations } from '../../../plugins/sip-bridge/registration.js';
import { configOf, FakeSip, validated } from './fakes.js';

function linesOf(outboundProxy: string, n: number): readonly Line[] {
  const config = configOf({
    schemaVersion: 2,
    providers: [{ name: 'p', accountPool: 'trunk', triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' }, onAccountNotFound: 'decline', outgoingInvite: { to: '{incoming.to}' } }],
    accountPools: {
      trunk: {
        outboundProxy, registrationRequired: false, maxCallsPerLine: 1,
        loader: Array.from({ length: n }, (_, i) => ({ uri: `sip:line${i}@trunk.example.net`, secretType: 'clrtxt', secret: `pw${i}` })),
      },
    },
  });
  return buildPools(config.pools).get('trunk')!.lines;
}

async function portIsFree(port: number): Promise<boolean> {
  const probe = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.bind(port, '127.0.0.1', () => { probe.close(); resolve(true); });
  });
}

describe('sip-bridge account transports (one-connection-per-account)', function () {
  this.timeout(10000);
  let stack: SipStack;
  let sip: PluginSipApi;
  let serverPort = 0;
  beforeEach(async () => {
    stack = new SipStack(silentLogger(), 'Test/1');
    serverPort = (await stack.listen('udp', '127.0.0.1', 0)).local.port;
    sip = createPluginSipApi(stack, () => `sip:127.0.0.1:${serverPort}`, () => { throw new Error('no subscribe in this test'); });
  });
  afterEach(async () => { await stack.close(); });

  it('protocolOf: sips → tls, transport parameter, else udp', () => {
    assert.equal(protocolOf('<sip:trunk.example.net;transport=udp>'), 'udp');
    assert.equal(protocolOf('sip:trunk.example.net'), 'udp');
    assert.equal(protocolOf('<sip:trunk.example.net;transport=TCP>'), 'tcp');
    assert.equal(protocolOf('sips:trunk.example.net'), 'tls');
  });

  it('one socket a line, even when two openFor race; distinct ports, none the server\'s; closed on removal and at shutdown', async () => {
    const lines = linesOf('sip:trunk.example.net;transport=udp', 3);
    let opened = 0;
    const counting: PluginSipApi = { ...sip, openAccountTransport: (protocol) => { opened++; return sip.openAccountTransport!(protocol); } };
    const sockets = new AccountTransports(counting, silentLogger());
    await Promise.all([sockets.openFor(lines), sockets.openFor(lines), sockets.openFor([lines[0]!])]);
    assert.equal(sockets.size, 3);
    assert.equal(opened, 3, 'one socket opened a line');
    const ports = lines.map((l) => sockets.of(l)!.port);
    assert.equal(new Set([...ports, serverPort]).size, 4, `ports ${ports.join(' ')} and the server's ${serverPort}`);
    assert.match(sockets.of(lines[0]!)!.contact, new RegExp(`^sip:b2bua@127\\.0\\.0\\.1:${ports[0]}$`));
    for (const port of ports) assert.equal(await portIsFree(port), false, `port ${port} is bound`);
    await sockets.close(lines[0]!);
    assert.equal(sockets.of(lines[0]!), undefined);
    assert.equal(await portIsFree(ports[0]!), true, 'closed on removal');
    await sockets.closeAll();
    assert.equal(sockets.size, 0);
    for (const port of ports.slice(1)) assert.equal(await portIsFree(port), true, `port ${port} closed at shutdown`);
    await sockets.openFor(lines);
    assert.equal(sockets.size, 0, 'nothing opened after shutdown');
  });

  it('a line whose socket cannot be opened (TLS without the server\'s certificate) is unavailable with the reason; the others, TCP included, are not', async () => {
    const tls = linesOf('sips:trunk.example.net', 1)[0]!;
    const tcp = linesOf('sip:trunk.example.net;transport=tcp', 1)[0]!;
    const udp = linesOf('sip:trunk.example.net;transport=udp', 1)[0]!;
    const sockets = new AccountTransports(sip, silentLogger());
    assert.equal(tls.isAvailable(), true);
    await sockets.openFor([tls, tcp, udp]);
    assert.match(tls.transportError ?? '', /B2BUA_TLS_CREDENTIALS_MISSING/);
    assert.equal(tls.isAvailable(), false);
    assert.equal(tcp.isAvailable(), true);
    assert.equal(udp.isAvailable(), true);
    assert.equal(sockets.size, 2);
    assert.match(sockets.of(tcp)!.contact, new RegExp(`^sip:b2bua@127\\.0\\.0\\.1:${sockets.of(tcp)!.port};transport=tcp$`));
    await sockets.closeAll();
  });

  it('a REGISTER of a line with a socket names its port in Contact and is sent from it', async () => {
    const [line] = linesOf('sip:trunk.example.net;transport=udp', 1);
    const sockets = new AccountTransports(sip, silentLogger());
    await sockets.openFor([line!]);
    const fake = new FakeSip();
    const registrations = new Registrations([line!], { sip: fake, log: silentLogger(), onChange: () => undefined, transportOf: (l) => sockets.of(l) });
    const req = registrations.registerRequest(line!, 3600);
    assert.equal(req.headers.Contact, `<sip:line0@127.0.0.1:${sockets.of(line!)!.port}>`);
    assert.equal(req.transport, sockets.of(line!));
    const without = new Registrations([line!], { sip: fake, log: silentLogger(), onChange: () => undefined }).registerRequest(line!, 3600);
    assert.equal(without.headers.Contact, '<sip:line0@127.0.0.1:5070;transport=udp>', 'without: the server\'s contact');
    assert.equal(without.transport, undefined);
    await sockets.closeAll();
  });

  it('validate(): with one-connection-per-account=true, a TLS account is refused at start-up unless the server listens on TLS; TCP and UDP accounts pass', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onecon-'));
    const account = (user: string, proxy: string) => ({ uri: `sip:${user}@trunk.example.net`, secretType: 'clrtxt', secret: 'pw', outboundProxy: proxy });
    fs.writeFileSync(path.join(dir, 'providers.json'), JSON.stringify({
      schemaVersion: 2,
      providers: [{ name: 'p', accountPool: 'trunk', triggerCondition: { strategy: 'Always' }, accountToUse: { strategy: 'Random' }, onAccountNotFound: 'decline', outgoingInvite: { to: '{incoming.to}' } }],
      accountPools: { trunk: { registrationRequired: false, maxCallsPerLine: 1, loader: [account('u', 'sip:a.example.net'), account('t', 'sip:a.example.net;transport=tcp'), account('s', 'sips:a.example.net')] } },
    }));
    try {
      const on = await validated({ providers: 'providers.json' }, dir, configFileView(parseIni('[b2bua-server]\none-connection-per-account=true\n')));
      assert.equal(on.problems.length, 1, on.problems.join('\n'));
      assert.match(on.problems[0]!, /accountPools\.trunk: account sip:s@trunk\.example\.net: outbound proxy sips:a\.example\.net is TLS, but with one-connection-per-account=true its socket needs the server's TLS certificate/);
      const tls = await validated({ providers: 'providers.json' }, dir, configFileView(parseIni('[b2bua-server]\none-connection-per-account=true\ntransport=sip:127.0.0.1:6067;transport=udp sips:127.0.0.1:6068\n')));
      assert.deepEqual(tls.problems, []);
      const off = await validated({ providers: 'providers.json' }, dir, configFileView(parseIni('[b2bua-server]\none-connection-per-account=false\n')));
      assert.deepEqual(off.problems, []);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  it('listensOnTls: a sips: URI or ;transport=tls among the listening URIs', () => {
    assert.equal(listensOnTls('sip:127.0.0.1:6067;transport=tcp'), false);
    assert.equal(listensOnTls(''), false);
    assert.equal(listensOnTls('sip:127.0.0.1:6067 sips:[::1]:6068'), true);
    assert.equal(listensOnTls('sip:127.0.0.1:6067;transport=TLS'), true);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configError, parseConfigText } from '../../../core/config/load.js';
import { validateSection, type SectionSchema } from '../../../core/config/section.js';
import { parseIni } from '../../../core/config/ini.js';

const FILE = 'flexisip.conf';

function problemsOf(b2bua: string, extra = ''): readonly string[] {
  return parseConfigText(`[b2bua-server]\n${b2bua}\n${extra}`, FILE).problems;
}

describe('[b2bua-server] schema: values, defaults and error messages', () => {
  it('gives every Flexisip default when the section is absent, frozen and camelCase', () => {
    const { config, problems } = parseConfigText('[module::Router]\nwhatever=1\n', FILE);
    assert.deepEqual(problems, []);
    const s = config.server;
    assert.equal(s.application, 'trenscrypter');
    assert.equal(s.transport, 'sip:127.0.0.1:6067;transport=tcp');
    assert.equal(s.outboundProxy, 'sip:127.0.0.1:5060;transport=tcp');
    assert.equal(s.userAgent, 'Flexisip-B2BUA/{version}');
    assert.deepEqual(s.audioPort, { min: 0, max: 0 });
    assert.equal(s.noRtpTimeout, 30);
    assert.equal(s.maxCallDuration, 0);
    assert.equal(s.maxCalls, 500);
    assert.equal(s.enableKeepalive, true);
    assert.equal(s.enableIce, true);
    assert.deepEqual(s.natAddresses, []);
    assert.equal(s.dataDirectory, '/var/lib/flexisip/b2b');
    assert.equal(s.oneConnectionPerAccount, false);
    assert.equal(s['mediaEngine'], 'gstreamer');
    assert.equal(s['shutdownGracePeriod'], 5);
    assert.equal(s['ringingTimeout'], 240);
    assert.equal(s['sessionExpires'], 1800);
    assert.ok(Object.isFrozen(s) && Object.isFrozen(s.audioPort) && Object.isFrozen(s.natAddresses));
    assert.throws(() => { (s as unknown as Record<string, unknown>)['maxCalls'] = 1; }, TypeError);
  });

  it('converts ranges, booleans in every spelling, lists and durations', () => {
    const { config, problems } = parseConfigText(
      '[b2bua-server]\naudio-port=10000-10100\nvideo-port=20000\nenable-ice=no\nenable-keepalive=1\n' +
      'nat-addresses=\nno-rtp-timeout=2min\nmax-call-duration=1h\nplugin-directories=plugins /opt/p\n', '/etc/flexisip/flexisip.conf');
    assert.deepEqual(problems, [
      'flexisip.conf [b2bua-server] plugin-directories: "/etc/flexisip/plugins" is not a folder (remove it or create it; relative paths start from /etc/flexisip)',
      'flexisip.conf [b2bua-server] plugin-directories: "/opt/p" is not a folder (remove it or create it; relative paths start from /etc/flexisip)',
    ].map((p) => p.replace('flexisip.conf', '/etc/flexisip/flexisip.conf')));
    assert.deepEqual(config.server.audioPort, { min: 10000, max: 10100 });
    assert.deepEqual(config.server.videoPort, { min: 20000, max: 20000 });
    assert.equal(config.server.enableIce, false);
    assert.equal(config.server.enableKeepalive, true);
    assert.equal(config.server.noRtpTimeout, 120);
    assert.equal(config.server.maxCallDuration, 3600);
    assert.deepEqual(config.server.pluginDirectories, ['/etc/flexisip/plugins', '/opt/p']);
  });

  it('unknown key: names file, section, key and the closest known key', () => {
    const p = problemsOf('max-call=10');
    assert.deepEqual(p, ['flexisip.conf [b2bua-server] max-call: unknown key (did you mean "max-calls"?)']);
  });

  it('bad SIP URI, bad port range, illegal user-agent: each named with what is expected', () => {
    const p = problemsOf('outbound-proxy=127.0.0.1:5060\naudio-port=10100-10000\nvideo-port=70000\nuser-agent=My Agent/1.0');
    assert.equal(p.length, 4, p.join('\n'));
    assert.match(p[0]!, /^flexisip.conf \[b2bua-server\] outbound-proxy: "127.0.0.1:5060" is not a SIP URI \(expected e.g. sip:/);
    assert.match(p[1]!, /audio-port: "10100-10000": the range starts after it ends \(expected min-max with min <= max/);
    assert.match(p[2]!, /video-port: "70000": ports must be between 1 and 65535/);
    assert.match(p[3]!, /user-agent: "My Agent\/1.0" is not a valid user-agent \(expected name, name\/version or name\/\{version\}/);
  });

  it('accepts the three user-agent forms', () => {
    for (const ua of ['B2B', 'B2B/1.2.3', 'Flexisip-B2BUA/{version}']) assert.deepEqual(problemsOf(`user-agent=${ua}`), [], ua);
    for (const ua of ['B2B/', '/1.0', 'a/b/c', 'B2B/{ver}', 'x@y']) assert.equal(problemsOf(`user-agent=${ua}`).length, 1, ua);
  });

  it('warns, without a problem, when user-agent uses {version} (written or by default); not for a fixed one', () => {
    const warningsOf = (text: string) => parseConfigText(text, FILE).warnings;
    for (const text of ['[b2bua-server]\nuser-agent=B2B/{version}\n', '[b2bua-server]\n', '']) {
      const w = warningsOf(text);
      assert.equal(w.length, 1, JSON.stringify(text));
      assert.match(w[0]!, /^flexisip\.conf \[b2bua-server\] user-agent: ".*\/\{version\}"( \(the default\))? uses \{version\}/);
    }
    assert.doesNotMatch(warningsOf('[b2bua-server]\nuser-agent=B2B/{version}\n')[0]!, /the default/);
    assert.match(warningsOf('')[0]!, /"Flexisip-B2BUA\/\{version\}" \(the default\)/);
    for (const ua of ['B2B', 'B2B/1.2.3']) assert.deepEqual(warningsOf(`[b2bua-server]\nuser-agent=${ua}\n`), [], ua);
    assert.deepEqual(parseConfigText('[b2bua-server]\nuser-agent=B2B/{version}\n', FILE).problems, []);
  });

  it('transport: only udp, tcp, tls; sips needs TLS files', () => {
    assert.match(problemsOf('transport=sip:127.0.0.1:5060;transport=sctp')[0]!, /transport: .*transport "sctp" is not supported \(expected udp, tcp or tls\)/);
    const p = problemsOf('transport=sips:127.0.0.1:5061');
    assert.deepEqual(p.map((x) => x.split(':')[0]), ['flexisip.conf [b2bua-server] tls-certificate', 'flexisip.conf [b2bua-server] tls-private-key']);
    assert.match(p[0]!, /required because transport "sips:127.0.0.1:5061" is TLS/);
  });

  it('TLS files must be readable, relative to the config folder', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'b2bua-tls-'));
    try {
      writeFileSync(path.join(dir, 'cert.pem'), 'x');
      const { config, problems } = parseConfigText(
        '[b2bua-server]\ntransport=sip:127.0.0.1:5061;transport=tls\ntls-certificate=cert.pem\ntls-private-key=missing.pem\n',
        path.join(dir, 'flexisip.conf'));
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, /tls-private-key: cannot read ".*missing.pem"/);
      assert.equal(config.server.tlsCertificate, path.join(dir, 'cert.pem'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('numbers, booleans and enums: conversion errors and did-you-mean', () => {
    const p = problemsOf('max-calls=lots\nenable-ice=maybe\nmedia-engine=gstreamr\nmax-calls=0', '');
    assert.equal(p.length, 3, p.join('\n'));
    assert.match(p[0]!, /enable-ice: "maybe" is not a boolean \(expected true or false/);
    assert.match(p[1]!, /media-engine: "gstreamr" is not one of relay, gstreamer \(did you mean "gstreamer"\?\)/);
    assert.match(p[2]!, /max-calls: 0 is out of range \(expected >= 1\)/);
    assert.match(problemsOf('max-calls=lots')[0]!, /max-calls: "lots" is not an integer \(expected an integer\)/);
    assert.match(problemsOf('no-rtp-timeout=soon')[0]!, /no-rtp-timeout: "soon" is not a duration/);
  });

  it('cross-key rules: nat-addresses needs ICE, session-expires minimum, admin on loopback only', () => {
    assert.match(problemsOf('enable-ice=false\nnat-addresses=192.0.2.1')[0]!, /nat-addresses: is only used with ICE/);
    assert.match(problemsOf('nat-addresses=bad_host!')[0]!, /nat-addresses: "bad_host!" is neither an IP address nor a host name/);
    assert.deepEqual(problemsOf('nat-addresses=b2bua.example.org'), [], 'a host name is resolved at start-up (core/config/nat-addresses.ts)');
    assert.match(problemsOf('nat-addresses=192.0.2.1 198.51.100.1 2001:db8::1')[0]!, /nat-addresses: has 2 IPv4 addresses \(192.0.2.1 198.51.100.1\): at most one IPv4 and one IPv6/);
    assert.deepEqual(problemsOf('nat-addresses=192.0.2.1 2001:db8::1'), []);
    assert.deepEqual(problemsOf('one-connection-per-account=true'), [], 'acted on: a socket per sip-bridge account (UDP)');
    assert.deepEqual(problemsOf('one-connection-per-account=false'), []);
    assert.match(problemsOf('session-expires=30')[0]!, /session-expires: 30 is below the RFC 4028 minimum/);
    assert.match(problemsOf('admin-address=0.0.0.0:8080')[0]!, /admin-address: .*must listen on loopback/);
    assert.deepEqual(problemsOf('admin-address=127.0.0.1:8080'), []);
  });

  it('[global] log-level is read (Flexisip names) and checked', () => {
    assert.equal(parseConfigText('[global]\nlog-level=warning\n', FILE).config.logLevel, 'warn');
    assert.match(parseConfigText('[global]\nlog-level=debgu\n', FILE).problems[0]!, /\[global\] log-level: "debgu" is not one of debug, message, warning, error \(did you mean "debug"\?\)/);
  });

  it('a misspelt [b2bua-server] section is reported', () => {
    assert.match(parseConfigText('[b2bua-sever]\na=1\n', FILE).problems[0]!, /\[b2bua-sever\]: unknown section \(did you mean "\[b2bua-server\]"\?\)/);
  });

  it('INI syntax problems carry the file and line', () => {
    assert.deepEqual(parseConfigText('[b2bua-server]\noops\n', FILE).problems, ['flexisip.conf line 2: expected "[section]", "key=value" or "# comment", found "oops"']);
  });

  it('configError lists every problem with code B2BUA_CONFIG_INVALID', () => {
    const e = configError(FILE, ['a', 'b']);
    assert.equal(e.code, 'B2BUA_CONFIG_INVALID');
    assert.match(e.message, /^B2BUA_CONFIG_INVALID: 2 problems in flexisip.conf:\n {2}a\n {2}b$/);
    assert.deepEqual(e.details, ['a', 'b']);
  });
});

describe('plugin section validation (any schema)', () => {
  const schema: SectionSchema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    additionalProperties: false,
    properties: {
      'outgoing-enc-regex': { type: 'array', items: { type: 'string' }, default: [] },
      mode: { type: 'string', enum: ['none', 'sdes', 'dtls-srtp', 'zrtp'], default: 'none' },
      modes: { type: 'array', items: { type: 'string', enum: ['none', 'sdes', 'dtls-srtp', 'zrtp'] }, default: [] },
    },
  } as SectionSchema;
  const where = { file: FILE, section: 'b2bua-server::trenscrypter' };
  const run = (text: string) => validateSection(schema, parseIni(`[s]\n${text}`).sections.get('s')!.entries, where);

  it('splits arrays on whitespace and fills defaults', () => {
    const r = run('outgoing-enc-regex=zrtp sip:.*zrtp.*  none sip:.*');
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.values, { 'outgoing-enc-regex': ['zrtp', 'sip:.*zrtp.*', 'none', 'sip:.*'], mode: 'none', modes: [] });
  });

  it('enum did-you-mean also inside arrays (draft 2020-12 schema)', () => {
    assert.deepEqual(run('mode=dtsl-srtp').problems,
      ['flexisip.conf [b2bua-server::trenscrypter] mode: "dtsl-srtp" is not one of none, sdes, dtls-srtp, zrtp (did you mean "dtls-srtp"?)']);
    assert.match(run('modes=sdes dtsl-srtp').problems[0]!, /modes: "dtsl-srtp" is not one of .* \(did you mean "dtls-srtp"\?\)/);
  });

  it('unknown key in a plugin section', () => {
    assert.deepEqual(run('outgoing-enc-regexp=x').problems,
      ['flexisip.conf [b2bua-server::trenscrypter] outgoing-enc-regexp: unknown key (did you mean "outgoing-enc-regex"?)']);
  });
});

import { strict as assert } from 'node:assert';
import Ajv from 'ajv';
import plugin from '../../../plugins/trenscrypter/index.js';
import { parseConfigText } from '../../../core/config/load.js';
import { parseIni } from '../../../core/config/ini.js';
import { configFileView } from '../../../core/plugin-host/index.js';
import { PluginConfigError, createHooks } from '../../../core/plugin-api/index.js';
import type { IncomingCall, LegBMedia, Logger, MediaCapabilities, PluginHost } from '../../../core/plugin-api/index.js';
import type { TrenscrypterOptions } from '../../../plugins/trenscrypter/index.js';

const logged: { level: string; obj: unknown; msg?: string | undefined }[] = [];
const log: Logger = {
  debug: (obj) => void logged.push({ level: 'debug', obj }),
  info: (obj) => void logged.push({ level: 'info', obj }),
  warn: (obj, msg) => void logged.push({ level: 'warn', obj, msg }),
  error: (obj) => void logged.push({ level: 'error', obj }),
  child: () => log,
};

const GST_LIKE: MediaCapabilities = {
  engine: 'gstreamer',
  encryption: ['none', 'sdes'],
  srtpSuites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_32'],
  unavailable: { AES_192_CM_HMAC_SHA1_80: 'no AES-192 in this build' },
};

const noConfigFile = configFileView(parseIni(''));

function hostWith(options: TrenscrypterOptions, media: MediaCapabilities = GST_LIKE): PluginHost<TrenscrypterOptions> {
  return {
    media,
    hooks: createHooks(),
    options: Object.freeze(options),
    server: parseConfigText('', 'test.conf').config.server,
    configDir: '/nonexistent',
    configFile: noConfigFile,
    log,
    sip: { request: () => Promise.reject(new Error('no SIP in this test')), contact: 'sip:127.0.0.1:5060', subscribe: () => assert.fail('trenscrypter subscribes to nothing') },
    admin: { register: () => assert.fail('trenscrypter has no admin command') },
  };
}

function callTo(uri: string): IncomingCall {
  return {
    id: 'c1',
    legA: {
      callId: 'abc', requestUri: 'sip:ignored@request.uri',
      from: { uri: 'sip:alice@example.org', params: { tag: '1' } },
      to: { uri, params: {} },
      header: () => undefined, transport: 'udp', source: { address: '127.0.0.1', port: 5060 },
    },
    offeredMedia: { encryption: 'none', srtpSuites: [], kinds: ['audio'] },
    data: new Map(),
    annotate: () => undefined,
  };
}

describe('trenscrypter plugin', () => {
  it('declares its name, host API range and a schema whose defaults are empty lists', () => {
    assert.equal(plugin.name, 'trenscrypter');
    assert.equal(plugin.hostApi, '^1.4.0', 'validate() returns warnings: host API 1.2.0; IncomingCall.annotate 1.4.0');
    const ajv = new Ajv.default({ useDefaults: true, strict: false });
    const validate = ajv.compile(plugin.configSchema);
    const section: Record<string, unknown> = {};
    assert.ok(validate(section));
    assert.deepEqual(section, { 'outgoing-enc-regex': [], 'outgoing-srtp-regex': [] });
    assert.equal(validate({ 'outgoing-enc-regexp': ['zrtp', '.*'] }), false, 'unknown keys are refused');
  });

  it('every schema property has type, default and description', () => {
    const props = (plugin.configSchema as { properties: Record<string, Record<string, unknown>> }).properties;
    for (const [key, p] of Object.entries(props)) {
      for (const field of ['type', 'default', 'description']) assert.ok(field in p, `${key} lacks ${field}`);
    }
  });

  it('validate() returns the policy problems', async () => {
    assert.deepEqual(await plugin.validate!({ 'outgoing-enc-regex': ['dtsl-srtp', '.*'] }, { configDir: '/', configFile: noConfigFile }), {
      problems: ['outgoing-enc-regex: unknown mode "dtsl-srtp" (did you mean "dtls-srtp"?)'], warnings: [],
    });
    assert.deepEqual(await plugin.validate!({}, { configDir: '/', configFile: noConfigFile }), { problems: [], warnings: [] });
  });

  it('taps legBMedia and decides from leg A To URI (not the Request-URI)', async () => {
    const host = hostWith({ 'outgoing-enc-regex': ['zrtp', 'sip:.*@secure.org', 'none', 'sip:ignored@request.uri'] });
    await plugin.apply(host);
    const legA: LegBMedia = { encryption: 'sdes', srtpSuites: ['AES_CM_128_HMAC_SHA1_32'] };
    assert.deepEqual(await host.hooks.legBMedia.promise(legA, callTo('sip:bob@secure.org')), { encryption: 'zrtp', srtpSuites: [] });
    assert.deepEqual(await host.hooks.legBMedia.promise(legA, callTo('sip:bob@plain.org')), {
      encryption: 'sdes', srtpSuites: ['AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_256_GCM', 'AES_256_CM_HMAC_SHA1_80'],
    }, 'no rule: leg A mode, Flexisip\'s default suites');
  });

  it('applies SRTP suites when leg B is SDES', async () => {
    const host = hostWith({
      'outgoing-enc-regex': ['sdes', 'sip:.*'],
      'outgoing-srtp-regex': ['AES_256_CM_HMAC_SHA1_80;AES_256_CM_HMAC_SHA1_32', 'sip:.*@strong.org'],
    });
    await plugin.apply(host);
    const none: LegBMedia = { encryption: 'none', srtpSuites: [] };
    assert.deepEqual(await host.hooks.legBMedia.promise(none, callTo('sip:x@strong.org')), {
      encryption: 'sdes', srtpSuites: ['AES_256_CM_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_32'],
    });
    assert.deepEqual(await host.hooks.legBMedia.promise(none, callTo('sip:x@weak.org')), {
      encryption: 'sdes', srtpSuites: ['AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_256_GCM', 'AES_256_CM_HMAC_SHA1_80'],
    });
  });

  it('apply() refuses an invalid configuration instead of running half a policy', () => {
    assert.throws(() => plugin.apply(hostWith({ 'outgoing-enc-regex': ['zrtp', '.*', 'dtsl-srtp', '.*'] })), /unknown mode "dtsl-srtp"/);
  });

  it('a trailing unpaired item: validate() accepts it with a warning naming the key and the item, apply() ignores it and logs nothing', async () => {
    const options = { 'outgoing-enc-regex': ['zrtp', 'sip:.*@secure.org', 'sdes'], 'outgoing-srtp-regex': ['AES_CM_128_HMAC_SHA1_32'] };
    const validation = await plugin.validate!(options, { configDir: '/', configFile: noConfigFile });
    assert.ok(!Array.isArray(validation) && 'problems' in validation);
    assert.deepEqual(validation.problems, []);
    const warnings = validation.warnings ?? [];
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0]!, /^outgoing-enc-regex: last item "sdes" ignored, as Flexisip does: .*\(3 items; add its regex or remove it\)$/);
    assert.match(warnings[1]!, /^outgoing-srtp-regex: last item "AES_CM_128_HMAC_SHA1_32" ignored/);
    logged.length = 0;
    const host = hostWith(options);
    await plugin.apply(host);
    assert.deepEqual(logged.filter((l) => l.level === 'warn'), [], 'the host logs validate()\'s warnings, not the plugin');
    const none: LegBMedia = { encryption: 'none', srtpSuites: [] };
    assert.deepEqual(await host.hooks.legBMedia.promise(none, callTo('sip:bob@secure.org')), { encryption: 'zrtp', srtpSuites: [] });
    assert.deepEqual(await host.hooks.legBMedia.promise(none, callTo('sip:bob@plain.org')), none, 'the ignored "sdes" is no rule');
  });

  it('apply() refuses at start-up an SRTP suite the media engine cannot do, with the engine\'s reason', () => {
    const options = { 'outgoing-srtp-regex': ['AES_CM_128_HMAC_SHA1_80;AES_192_CM_HMAC_SHA1_80', 'sip:.*@example.org', 'AEAD_AES_256_GCM', 'sip:.*'] };
    assert.throws(() => plugin.apply(hostWith(options)), (e: unknown) => {
      assert.ok(e instanceof PluginConfigError);
      assert.equal(e.problems.length, 2, e.problems.join('\n'));
      assert.match(e.problems[0]!, /^outgoing-srtp-regex: AES_192_CM_HMAC_SHA1_80 \(rule "sip:\.\*@example\.org"\) is not available with media-engine=gstreamer: no AES-192 in this build/);
      assert.match(e.problems[1]!, /AEAD_AES_256_GCM .* not supported by this engine/);
      return true;
    });
  });

  it('apply() does not check suites when the engine has no SDES at all (an SDES leg B gets 488 per call)', () => {
    const relay: MediaCapabilities = { engine: 'relay', encryption: ['none'], srtpSuites: [], unavailable: {} };
    assert.doesNotThrow(() => plugin.apply(hostWith({ 'outgoing-srtp-regex': ['AES_192_CM_HMAC_SHA1_80', 'sip:.*'] }, relay)));
  });

  it('a hook failure keeps leg A media and logs an error instead of throwing', async () => {
    const host = hostWith({ 'outgoing-enc-regex': ['zrtp', '.*'] });
    await plugin.apply(host);
    const broken = { ...callTo('sip:x@y'), legA: null } as unknown as IncomingCall;
    const legA: LegBMedia = { encryption: 'none', srtpSuites: [] };
    logged.length = 0;
    assert.deepEqual(await host.hooks.legBMedia.promise(legA, broken), legA);
    assert.equal(logged.filter((l) => l.level === 'error').length, 1);
  });
});

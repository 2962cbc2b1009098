import assert from 'node:assert/strict';
import { DEFAULT_CONFIG_FILE, parseArgs } from '../../../core/cli/args.js';
import { isB2buaError } from '../../../core/errors/index.js';

describe('command line', () => {
  it('defaults to running with /etc/flexisip/flexisip.conf', () => {
    assert.deepEqual(parseArgs([]), { action: 'run', configFile: DEFAULT_CONFIG_FILE, debug: false, daemon: false, syslog: false, pidFile: undefined });
  });

  it('accepts Flexisip\'s form: --server b2bua -c FILE, and --config=FILE, --debug', () => {
    assert.deepEqual(parseArgs(['--server', 'b2bua', '-c', '/x.conf', '--debug']), { action: 'run', configFile: '/x.conf', debug: true, daemon: false, syslog: false, pidFile: undefined });
    assert.equal(parseArgs(['--config=/y.conf']).configFile, '/y.conf');
    assert.equal(parseArgs(['--config', 'z.conf', '--check-config']).action, 'check-config');
    assert.equal(parseArgs(['--dump-default']).action, 'dump-default');
    assert.equal(parseArgs(['-h']).action, 'help');
    assert.equal(parseArgs(['--version']).action, 'version');
  });

  it('accepts the command line of Flexisip\'s systemd unit: --server b2bua --daemon --syslog --pidfile FILE; -d, -p', () => {
    assert.deepEqual(parseArgs(['--server', 'b2bua', '--daemon', '--syslog', '--pidfile', '/var/run/flexisip-b2bua.pid']),
      { action: 'run', configFile: DEFAULT_CONFIG_FILE, debug: false, daemon: true, syslog: true, pidFile: '/var/run/flexisip-b2bua.pid' });
    assert.deepEqual(parseArgs(['-d', '-p', '/tmp/x.pid']), { action: 'run', configFile: DEFAULT_CONFIG_FILE, debug: true, daemon: false, syslog: false, pidFile: '/tmp/x.pid' });
  });

  const usageError = (argv: string[], pattern: RegExp) =>
    assert.throws(() => parseArgs(argv), (e: unknown) => isB2buaError(e, 'B2BUA_USAGE') && pattern.test(e.message));

  it('refuses another Flexisip server name, unknown flags (with a hint) and missing values', () => {
    usageError(['--server', 'proxy'], /--server proxy: this program only serves "b2bua"/);
    usageError(['--check-conf'], /unknown argument "--check-conf" \(did you mean --check-config\?\)/);
    usageError(['-c'], /-c needs a value/);
    usageError(['--config', '--debug'], /--config needs a value/);
    usageError(['--check-config', '--dump-default'], /cannot be combined/);
    usageError(['--check-config', '--daemon'], /--check-config cannot be combined with --daemon/);
    usageError(['--pidfile'], /--pidfile needs a value/);
  });
});

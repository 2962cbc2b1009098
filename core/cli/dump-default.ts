/** `--dump-default`: a complete commented default configuration, generated from the schemas. */
import { b2buaServerSchema, B2BUA_SECTION, PLUGIN_SECTION_PREFIX } from '../config/load.js';
import { renderIniSection } from '../config/describe-schema.js';
import { importPlugin, listPlugins } from '../plugin-host/index.js';
import { VERSION } from './version.js';

export async function dumpDefault(): Promise<string> {
  const parts = [
    `## b2bua-server ${VERSION}: default configuration (b2bua-server --dump-default).`,
    '## Same file format and keys as Flexisip\'s flexisip.conf; sections of other Flexisip servers are ignored.',
    '',
    '[global]',
    '',
    '# Log level: debug, message, warning or error (--debug wins). Only this key of [global] is read.',
    'log-level=message',
    '',
    renderIniSection({ section: B2BUA_SECTION, schema: b2buaServerSchema }),
  ];
  const builtins = listPlugins({ configDir: process.cwd(), pluginDirectories: [] }).filter((p) => p.source === 'built-in');
  for (const location of builtins) {
    try {
      const plugin = await importPlugin(location);
      parts.push(renderIniSection({
        section: `${PLUGIN_SECTION_PREFIX}${plugin.name}`,
        schema: plugin.configSchema,
        title: `Application "${plugin.name}" (used when [b2bua-server] application=${plugin.name}).`,
      }));
    } catch (e) {
      parts.push(`## Application "${location.name}" could not be loaded: ${(e as Error).message}`, '');
    }
  }
  return parts.join('\n');
}

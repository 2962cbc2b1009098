/** PluginHost.configFile: the parsed file's sections, read-only, raw values as written. */
import type { IniDocument } from '../config/ini.js';
import type { ConfigFileView } from '../plugin-api/index.js';

export function configFileView(document: IniDocument): ConfigFileView {
  const cache = new Map<string, ReadonlyMap<string, string>>();
  return Object.freeze({
    section(name: string): ReadonlyMap<string, string> | undefined {
      if (typeof name !== 'string') return undefined;
      const section = document.sections.get(name);
      if (!section) return undefined;
      let values = cache.get(name);
      if (!values) {
        values = readOnly(new Map([...section.entries].map(([key, entry]) => [key, entry.value])));
        cache.set(name, values);
      }
      return values;
    },
  });
}

/** A Map whose mutators throw: a plugin cannot change what another plugin (or the next call) reads. */
function readOnly<K, V>(map: Map<K, V>): ReadonlyMap<K, V> {
  const refuse = (): never => {
    throw new TypeError('the configuration file is read-only');
  };
  return Object.freeze(Object.assign(map, { set: refuse, delete: refuse, clear: refuse }));
}

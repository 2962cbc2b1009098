/**
 * The plugin's read-only admin commands: those it registers from apply() (`host.admin`), then its deprecated
 * static `adminCommands` that it did not register. The admin interface looks them up at each request.
 */
import type { B2buaPlugin, PluginAdminApi } from '../plugin-api/index.js';

export type AdminCommand = () => unknown;

export class PluginAdminCommands implements PluginAdminApi {
  private readonly registered = new Map<string, AdminCommand>();

  constructor(private readonly plugin: Pick<B2buaPlugin, 'name' | 'adminCommands'>) {}

  register(command: string, run: AdminCommand): void {
    if (typeof command !== 'string' || command === '') throw new TypeError(`application "${this.plugin.name}": an admin command needs a name`);
    if (typeof run !== 'function') throw new TypeError(`application "${this.plugin.name}": admin command "${command}" is not a function`);
    if (this.registered.has(command)) throw new Error(`application "${this.plugin.name}": admin command "${command}" is already registered`);
    this.registered.set(command, run);
  }

  get(command: string): AdminCommand | undefined {
    return this.registered.get(command) ?? (Object.hasOwn(this.plugin.adminCommands ?? {}, command) ? this.plugin.adminCommands![command] : undefined);
  }

  names(): string[] {
    return [...new Set([...this.registered.keys(), ...Object.keys(this.plugin.adminCommands ?? {})])];
  }
}

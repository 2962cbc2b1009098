/**
 * Value formats of our schemas (`"format": "sip-uri"` etc.). Each check returns why a value
 * is wrong (used in error messages) or undefined when it is fine; ajv gets the boolean form.
 */
import net from 'node:net';
import { checkUri } from '../sip/uri.js';

export type FormatCheck = (value: string) => string | undefined;

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
/** RFC 3261 `token` characters. */
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export interface SipUriParts {
  readonly scheme: 'sip' | 'sips';
  readonly user: string | undefined;
  readonly host: string;
  readonly port: number | undefined;
  readonly params: Readonly<Record<string, string | null>>;
}

/**
 * A SIP URI as the runtime parses it (core/sip/uri.ts), with the config's stricter rules: lower-case scheme, no blanks,
 * one `@`, a host that is an IP address or an RFC 1123 host name.
 */
export function parseSipUri(value: string): SipUriParts | string {
  const text = value.trim();
  const u = /^sips?:[^@?]*(@[^@?]*)?(\?.*)?$/.test(text) && !/\s/.test(text) ? checkUri(text) : { problem: 'syntax' as const };
  if ('problem' in u && u.problem === 'syntax') return `"${value}" is not a SIP URI (expected e.g. sip:127.0.0.1:5060;transport=tcp)`;
  if ('problem' in u && u.problem === 'port') return `"${value}": port ${u.port} is out of range (0-65535)`;
  const host = 'problem' in u ? u.host : u.host.includes(':') ? `[${u.host}]` : u.host;
  if ('problem' in u || (host.startsWith('[') ? !net.isIPv6(u.host) : !(net.isIPv4(host) || HOSTNAME.test(host)))) {
    return `"${value}": "${host}" is not a valid host (expected an IP address or a host name)`;
  }
  return { scheme: u.scheme, user: u.password !== undefined ? `${u.user}:${u.password}` : u.user, host: u.host, port: u.port, params: u.params };
}

const sipUri: FormatCheck = (v) => {
  const parsed = parseSipUri(v);
  return typeof parsed === 'string' ? parsed : undefined;
};

/** `transport`: a SIP URI we can listen on (udp, tcp, tls). */
const sipListenUri: FormatCheck = (v) => {
  const parsed = parseSipUri(v);
  if (typeof parsed === 'string') return parsed;
  if (parsed.user !== undefined) return `"${v}": a listening URI has no user part (expected e.g. sip:127.0.0.1:6067;transport=tcp)`;
  const transport = parsed.params['transport'];
  if (transport !== undefined) {
    const t = (transport ?? '').toLowerCase();
    if (!['udp', 'tcp', 'tls'].includes(t)) return `"${v}": transport "${transport ?? ''}" is not supported (expected udp, tcp or tls)`;
    if (parsed.scheme === 'sips' && t === 'udp') return `"${v}": sips: needs TLS, not transport=udp (use sips:...;transport=tls or sip:...;transport=udp)`;
  }
  return undefined;
};

/** One listening URI, or several separated by whitespace (an extension: e.g. one IPv4 and one IPv6 listener). */
const sipListenUris: FormatCheck = (v) => {
  const uris = v.split(/\s+/).filter((u) => u !== '');
  if (uris.length === 0) return sipListenUri(v);
  for (const u of uris) {
    const problem = sipListenUri(u);
    if (problem) return problem;
  }
  return undefined;
};

export function parsePortRange(v: string): { min: number; max: number } | string {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(v);
  if (!m) return `"${v}" is not a port or port range (expected 0, a port such as 10000, or min-max such as 10000-10100)`;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (m[2] === undefined && min === 0) return { min: 0, max: 0 };
  if (min < 1 || max > 65535 || min > 65535 || max < 1) return `"${v}": ports must be between 1 and 65535 (or 0 alone for a kernel-chosen port)`;
  if (min > max) return `"${v}": the range starts after it ends (expected min-max with min <= max, e.g. ${max}-${min})`;
  return { min, max };
}

const portRange: FormatCheck = (v) => {
  const r = parsePortRange(v);
  return typeof r === 'string' ? r : undefined;
};

const userAgent: FormatCheck = (v) => {
  const parts = v.split('/');
  const [name, version] = parts;
  const ok = parts.length <= 2 && name !== undefined && TOKEN.test(name) &&
    (version === undefined || version === '{version}' || TOKEN.test(version));
  return ok ? undefined : `"${v}" is not a valid user-agent (expected name, name/version or name/{version} with token characters only: letters, digits and -.!%*_+\`'~)`;
};

const ipAddress: FormatCheck = (v) => (net.isIP(v) ? undefined : `"${v}" is not an IP address`);
const optionalIpAddress: FormatCheck = (v) => (v.trim() === '' ? undefined : ipAddress(v));
const ipAddressOrHost: FormatCheck = (v) => (net.isIP(v) || HOSTNAME.test(v) ? undefined : `"${v}" is neither an IP address nor a host name`);

export function parseHostPort(v: string): { host: string; port: number } | string {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:\s]+):(\d{1,5})$/.exec(v.trim());
  if (!m) return `"${v}" is not host:port (expected e.g. 127.0.0.1:8090)`;
  const port = Number(m[2]);
  if (port > 65535) return `"${v}": port ${port} is out of range (0-65535)`;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port };
}

/** The admin interface has no authentication: it must stay on loopback. */
const loopbackHostPort: FormatCheck = (v) => {
  if (v.trim() === '') return undefined;
  const hp = parseHostPort(v);
  if (typeof hp === 'string') return hp;
  const loopback = hp.host === 'localhost' || hp.host === '::1' || (net.isIPv4(hp.host) && hp.host.startsWith('127.'));
  return loopback ? undefined : `"${v}": the admin interface has no authentication and must listen on loopback (expected 127.0.0.1:<port>, [::1]:<port> or localhost:<port>)`;
};

export const FORMATS: Readonly<Record<string, FormatCheck>> = {
  'sip-uri': sipUri,
  'sip-listen-uri': sipListenUris,
  'port-range': portRange,
  'user-agent': userAgent,
  'ip-address': ipAddress,
  'optional-ip-address': optionalIpAddress,
  'ip-address-or-host': ipAddressOrHost,
  'loopback-host-port': loopbackHostPort,
};

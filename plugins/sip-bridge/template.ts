/**
 * Provider templates such as `sip:{incoming.requestUri.user}@{account.uri.hostport}{incoming.requestUri.uriParameters}`.
 * Compiled once at start-up against the set of fields valid where the template is used (unknown field or missing `}` is
 * a configuration error) and rendered per call.
 */
import { didYouMean } from '../../core/plugin-api/index.js';
import { parseSipAddress } from './sip-uri.js';
import type { UriParts } from './sip-uri.js';

export const ADDRESS_SUBFIELDS = ['', 'user', 'hostport', 'uriParameters', 'displayName'] as const;

/** The values a template can read: addresses by name (e.g. `incoming.to`, `account.uri`, `to`). */
export type TemplateValues = Readonly<Record<string, UriParts | undefined>>;

export interface Template {
  readonly text: string;
  /** `x.displayName` fields written between double quotes (`"{x.displayName}"`): rendered without quotes of their own. */
  readonly quotedDisplayNames: readonly string[];
  render(values: TemplateValues): string;
}

type Field = { readonly address: string; readonly sub: (typeof ADDRESS_SUBFIELDS)[number]; readonly quoted?: boolean };
type Part = string | Field;

/** The display name escaped as Flexisip does (string-format-fields.hh:42-43): `"` → `\"`, `\` → `\\`. */
export function escapeDisplayName(name: string): string {
  return name.replace(/["\\]/g, (c) => `\\${c}`);
}

/**
 * `{x.displayName}` as Flexisip renders it (string-format-fields.hh:41-45): empty when there is none, else quoted
 * and escaped (`"Fel\"ix"`), so that `{incoming.from.displayName} {account.uri}` is a valid address. Between
 * quotes in the template (`"{x.displayName}"`) Flexisip would double the quotes; we give the escaped text only.
 */
export function renderDisplayName(name: string, betweenQuotes = false): string {
  if (betweenQuotes) return escapeDisplayName(name);
  return name === '' ? '' : `"${escapeDisplayName(name)}"`;
}

/** All field names usable with these address names: `{x}`, `{x.user}`… */
export function fieldNames(addresses: readonly string[]): string[] {
  return addresses.flatMap((a) => ADDRESS_SUBFIELDS.map((s) => (s ? `${a}.${s}` : a)));
}

/** Compile `text`; returns the template or the problem (without key prefix). */
export function compileTemplate(text: string, addresses: readonly string[]): Template | { error: string } {
  const parts: Part[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{', i);
    if (open < 0) {
      parts.push(text.slice(i));
      break;
    }
    if (open > i) parts.push(text.slice(i, open));
    const close = text.indexOf('}', open);
    const nextOpen = text.indexOf('{', open + 1);
    if (close < 0 || (nextOpen >= 0 && nextOpen < close)) {
      const unclosed = text.slice(open, nextOpen >= 0 ? nextOpen : undefined);
      return { error: `missing "}" after "${unclosed}" in "${text}" (close the field)` };
    }
    const field = text.slice(open + 1, close).trim();
    const resolved = resolveField(field, addresses);
    if (!resolved) {
      const names = fieldNames(addresses);
      const hint = didYouMean(field, names);
      return {
        error: `unknown field "{${field}}" in "${text}" (${hint ? `did you mean "{${hint}}"?` : `use one of ${names.map((n) => `{${n}}`).join(', ')}`})`,
      };
    }
    const quoted = resolved.sub === 'displayName' && text[open - 1] === '"' && text[close + 1] === '"';
    parts.push(quoted ? { ...resolved, quoted } : resolved);
    i = close + 1;
  }
  return {
    text,
    quotedDisplayNames: parts.filter((p): p is Field => typeof p !== 'string' && p.quoted === true).map((p) => `${p.address}.${p.sub}`),
    render(values: TemplateValues): string {
      return parts.map((p) => (typeof p === 'string' ? p : valueOf(values[p.address], p))).join('');
    },
  };
}

function resolveField(field: string, addresses: readonly string[]): Field | undefined {
  for (const address of addresses) {
    if (field === address) return { address, sub: '' };
    if (field.startsWith(`${address}.`)) {
      const sub = field.slice(address.length + 1);
      if ((ADDRESS_SUBFIELDS as readonly string[]).includes(sub) && sub !== '') {
        return { address, sub: sub as Exclude<(typeof ADDRESS_SUBFIELDS)[number], ''> };
      }
    }
  }
  return undefined;
}

function valueOf(parts: UriParts | undefined, field: Field): string {
  if (!parts) return '';
  if (field.sub === 'displayName') return renderDisplayName(parts.displayName, field.quoted);
  return field.sub === '' ? parts.uri : parts[field.sub];
}

// ------------------------------------------------------------- the field sets of each place a template appears

/** outgoingInvite.to / from: the incoming call and the chosen account. */
export const INVITE_ADDRESSES = ['incoming.to', 'incoming.from', 'incoming.requestUri', 'account.uri', 'account.alias'] as const;
/** triggerCondition.source and accountToUse.source: the incoming call (Flexisip writes `{to}`; `{incoming.to}` is accepted too). */
export const CALL_ADDRESSES = ['to', 'from', 'requestUri', 'incoming.to', 'incoming.from', 'incoming.requestUri'] as const;
/** accountToUse.by: an account (`uri` / `alias` alone are Flexisip's older spelling of `{uri}` / `{alias}`). */
export const ACCOUNT_ADDRESSES = ['uri', 'alias'] as const;

export interface CallAddresses {
  readonly to: UriParts;
  readonly from: UriParts;
  readonly requestUri: UriParts;
}

/** A name-addr as the host gives it (a call's To / From, a Refer-To, a SUBSCRIBE's To / From). */
export interface AddressText {
  readonly uri: string;
  readonly displayName?: string | undefined;
}

/** The template fields of a call, a transfer or a subscription, from the host's addresses. */
export function addressesOf(to: AddressText, from: AddressText, requestUri: string): CallAddresses {
  return {
    to: parseSipAddress(to.uri, to.displayName ?? ''),
    from: parseSipAddress(from.uri, from.displayName ?? ''),
    requestUri: parseSipAddress(requestUri),
  };
}

export function callValues(call: CallAddresses): Record<string, UriParts> {
  return {
    to: call.to, from: call.from, requestUri: call.requestUri,
    'incoming.to': call.to, 'incoming.from': call.from, 'incoming.requestUri': call.requestUri,
  };
}

export function accountValues(uri: string, alias: string | undefined): Record<string, UriParts | undefined> {
  const u = parseSipAddress(uri);
  const a = alias ? parseSipAddress(alias) : undefined;
  return { uri: u, alias: a, 'account.uri': u, 'account.alias': a };
}

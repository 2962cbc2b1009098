/**
 * The trenscrypter's encryption policy: parse the `outgoing-enc-regex` and `outgoing-srtp-regex`
 * pair lists and decide leg B's encryption from leg A's To URI. Pure: no I/O, no hooks.
 */
import { ENCRYPTION_MODES, SRTP_SUITES, didYouMean } from '../../core/plugin-api/index.js';
import type { EncryptionMode, LegBMedia, MediaCapabilities, SrtpSuite } from '../../core/plugin-api/index.js';

export const ENC_KEY = 'outgoing-enc-regex';
export const SRTP_KEY = 'outgoing-srtp-regex';

/**
 * Suites leg B offers when it is SDES and no `outgoing-srtp-regex` rule matches, whatever leg A offered: Flexisip
 * makes leg B's call params from scratch (b2bua-server.cc `createCallParams(nullptr)`), so liblinphone falls back to
 * its core setting `[sip] srtp_crypto_suites`, which the B2BUA never sets: liblinphone 5.3+'s default, in this order
 * (coreapi/linphonecore.c `linphone_core_get_srtp_crypto_suites`). The core drops those the media engine cannot do.
 */
export const DEFAULT_SDES_SUITES: readonly SrtpSuite[] = ['AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_256_GCM', 'AES_256_CM_HMAC_SHA1_80'];

export interface EncryptionRule {
  readonly mode: EncryptionMode;
  /** The regex as written in the configuration (for logs). */
  readonly source: string;
  /** Anchored: matches the whole URI only. */
  readonly pattern: RegExp;
}

export interface SrtpRule {
  readonly suites: readonly SrtpSuite[];
  readonly source: string;
  readonly pattern: RegExp;
}

export interface EncryptionPolicy {
  readonly encryption: readonly EncryptionRule[];
  readonly srtp: readonly SrtpRule[];
}

export interface Parsed<T> {
  readonly value: T;
  /** `key: what is wrong (what to change)`; empty when the list is valid. */
  readonly problems: string[];
  /** `key: what is ignored (what to change)`: accepted as Flexisip does, but worth a warning (validate() returns them). */
  readonly warnings: string[];
}

/** Compile a configuration regex so that it must match the whole string; a syntax error is returned as text. */
export function compileWholeMatch(source: string): RegExp | { error: string } {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // V8 says "Invalid regular expression: /^(?:…)$/: Unterminated group": keep the reason only.
    const reason = message.slice(message.lastIndexOf(': ') + 2) || message;
    return { error: reason };
  }
}

/** Flexisip (trenscrypter.cc) reads pairs while two items are left: a trailing unpaired item is ignored, with a warning here. */
function pairs(key: string, items: readonly string[], what: string, warnings: string[]): [string, string][] {
  const result: [string, string][] = [];
  for (let i = 0; i + 1 < items.length; i += 2) result.push([items[i]!, items[i + 1]!]);
  if (items.length % 2 === 1) {
    warnings.push(
      `${key}: last item "${items[items.length - 1]}" ignored, as Flexisip does: the list is pairs "${what} regex" and it has no regex ` +
        `after it (${items.length} item${items.length > 1 ? 's' : ''}; add its regex or remove it)`,
    );
  }
  return result;
}

function regexProblem(key: string, source: string, error: string): string {
  return `${key}: invalid regex "${source}": ${error} (fix the regular expression)`;
}

export function parseEncryptionRules(items: readonly string[] = []): Parsed<EncryptionRule[]> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const rules: EncryptionRule[] = [];
  for (const [mode, source] of pairs(ENC_KEY, items, 'mode', warnings)) {
    let ok = true;
    if (!(ENCRYPTION_MODES as readonly string[]).includes(mode)) {
      ok = false;
      const hint = didYouMean(mode, ENCRYPTION_MODES);
      problems.push(
        `${ENC_KEY}: unknown mode "${mode}" (${hint ? `did you mean "${hint}"?` : `use one of ${ENCRYPTION_MODES.join(', ')}`})`,
      );
    }
    const pattern = compileWholeMatch(source);
    if (!(pattern instanceof RegExp)) {
      problems.push(regexProblem(ENC_KEY, source, pattern.error));
      continue;
    }
    if (ok) rules.push({ mode: mode as EncryptionMode, source, pattern });
  }
  return { value: rules, problems, warnings };
}

export function parseSuiteList(list: string): { suites: SrtpSuite[]; problems: string[] } {
  const problems: string[] = [];
  const suites: SrtpSuite[] = [];
  const names = list.split(';').filter((s) => s !== '');
  if (names.length === 0) problems.push(`${SRTP_KEY}: empty suite list "${list}" (give ;-separated suites, e.g. AES_CM_128_HMAC_SHA1_80)`);
  for (const name of names) {
    if ((SRTP_SUITES as readonly string[]).includes(name)) {
      suites.push(name as SrtpSuite);
      continue;
    }
    const hint = didYouMean(name, SRTP_SUITES);
    problems.push(
      `${SRTP_KEY}: unknown SRTP suite "${name}" (${hint ? `did you mean "${hint}"?` : `use one of ${SRTP_SUITES.join(', ')}`})`,
    );
  }
  return { suites, problems };
}

export function parseSrtpRules(items: readonly string[] = []): Parsed<SrtpRule[]> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const rules: SrtpRule[] = [];
  for (const [list, source] of pairs(SRTP_KEY, items, 'suites', warnings)) {
    const parsed = parseSuiteList(list);
    problems.push(...parsed.problems);
    const pattern = compileWholeMatch(source);
    if (!(pattern instanceof RegExp)) {
      problems.push(regexProblem(SRTP_KEY, source, pattern.error));
      continue;
    }
    if (parsed.problems.length === 0) rules.push({ suites: parsed.suites, source, pattern });
  }
  return { value: rules, problems, warnings };
}

export function parsePolicy(options: {
  readonly [ENC_KEY]?: readonly string[] | undefined;
  readonly [SRTP_KEY]?: readonly string[] | undefined;
}): Parsed<EncryptionPolicy> {
  const encryption = parseEncryptionRules(options[ENC_KEY]);
  const srtp = parseSrtpRules(options[SRTP_KEY]);
  return {
    value: { encryption: encryption.value, srtp: srtp.value },
    problems: [...encryption.problems, ...srtp.problems],
    warnings: [...encryption.warnings, ...srtp.warnings],
  };
}

/**
 * Suites named by `outgoing-srtp-regex` that the media engine cannot do. Only meaningful when the
 * engine does SDES at all: otherwise an SDES leg B is refused per call (488), whatever its suites.
 */
export function unavailableSuites(policy: EncryptionPolicy, media: MediaCapabilities): string[] {
  if (!media.encryption.includes('sdes')) return [];
  const problems: string[] = [];
  for (const rule of policy.srtp) {
    for (const suite of rule.suites) {
      if (media.srtpSuites.includes(suite)) continue;
      const why = media.unavailable[suite] ?? 'not supported by this engine';
      problems.push(`${SRTP_KEY}: ${suite} (rule "${rule.source}") is not available with media-engine=${media.engine}: ${why} (remove it or choose another suite)`);
    }
  }
  return problems;
}

export interface Decision extends LegBMedia {
  /** The rules that decided, for the call's log (undefined = fallback). */
  readonly encryptionRule?: string | undefined;
  readonly srtpRule?: string | undefined;
}

/**
 * Leg B's media from leg A's (the waterfall input) and leg A's To URI (with its parameters).
 * First matching rule wins; no match keeps leg A's mode; suites only matter when leg B is SDES (no SRTP rule matched:
 * DEFAULT_SDES_SUITES, not leg A's suites, as Flexisip).
 */
export function decideLegBMedia(policy: EncryptionPolicy, toUri: string, legA: LegBMedia): Decision {
  const encRule = policy.encryption.find((r) => r.pattern.test(toUri));
  const encryption = encRule?.mode ?? legA.encryption;
  if (encryption !== 'sdes') return { encryption, srtpSuites: [], encryptionRule: encRule?.source };
  const srtpRule = policy.srtp.find((r) => r.pattern.test(toUri));
  const srtpSuites = [...(srtpRule?.suites ?? DEFAULT_SDES_SUITES)];
  return { encryption, srtpSuites, encryptionRule: encRule?.source, srtpRule: srtpRule?.source };
}
